// Word frequency: count the words of a text and list them, most frequent first.
//
// Arguments (each optional; the default is shown):
//   input   data name of the text      (input)
//   output  data name of the listing   (output)
// A word is a run of ASCII letters, digits and apostrophes, compared without
// case. Each output line is "<count> <word>", ordered by count (highest
// first), then by word. The result is the number of distinct words.
// Errors: -1 the input cannot be read, -2 the output cannot be written,
// -5 the text is larger than MAX_TEXT_BYTES or has more than MAX_WORDS
// distinct words.
//
// Payloads have no C++ standard library: this uses classes and templates
// with fixed-size storage instead of std::string and std::unordered_map.
#include "teabox.h"

namespace {

constexpr int MAX_TEXT_BYTES = 1 << 20;
constexpr int MAX_WORDS = 1 << 15;
constexpr int TABLE_SLOTS = MAX_WORDS * 2;  // open addressing, at most half full

struct Word {
    const char* text;  // points into the text buffer, already lower-cased
    int length;
    int count;
};

bool less_word(const Word& a, const Word& b) {
    int n = a.length < b.length ? a.length : b.length;
    for (int i = 0; i < n; i++) {
        if (a.text[i] != b.text[i]) return static_cast<unsigned char>(a.text[i]) < static_cast<unsigned char>(b.text[i]);
    }
    return a.length < b.length;
}

// Listing order: higher count first, then alphabetical.
bool before(const Word& a, const Word& b) {
    return a.count != b.count ? a.count > b.count : less_word(a, b);
}

// Heap sort: O(n log n), no recursion, no allocation.
template <typename T, typename Before>
void sort(T* items, int n, Before first) {
    auto sift_down = [&](int root, int end) {
        while (2 * root + 1 < end) {
            int child = 2 * root + 1;
            if (child + 1 < end && first(items[child], items[child + 1])) child++;
            if (!first(items[root], items[child])) return;
            T tmp = items[root];
            items[root] = items[child];
            items[child] = tmp;
            root = child;
        }
    };
    for (int i = n / 2 - 1; i >= 0; i--) sift_down(i, n);
    for (int end = n - 1; end > 0; end--) {
        T tmp = items[0];
        items[0] = items[end];
        items[end] = tmp;
        sift_down(0, end);
    }
}

class WordCounter {
public:
    // Count one occurrence; false when the table is full.
    bool add(const char* text, int length) {
        uint32_t hash = 2166136261u;  // FNV-1a
        for (int i = 0; i < length; i++) hash = (hash ^ static_cast<unsigned char>(text[i])) * 16777619u;
        for (uint32_t slot = hash % TABLE_SLOTS;; slot = (slot + 1) % TABLE_SLOTS) {
            int index = slots_[slot] - 1;
            if (index < 0) {
                if (size_ == MAX_WORDS) return false;
                words_[size_] = Word{text, length, 1};
                slots_[slot] = ++size_;
                return true;
            }
            Word& word = words_[index];
            if (word.length == length && same(word.text, text, length)) {
                word.count++;
                return true;
            }
        }
    }

    Word* begin() { return words_; }
    int size() const { return size_; }

private:
    static bool same(const char* a, const char* b, int n) {
        for (int i = 0; i < n; i++) {
            if (a[i] != b[i]) return false;
        }
        return true;
    }

    Word words_[MAX_WORDS];
    int slots_[TABLE_SLOTS] = {};  // 0 = empty, else index + 1 into words_
    int size_ = 0;
};

bool is_word_char(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '\'';
}

char text[MAX_TEXT_BYTES];
WordCounter counter;

}  // namespace

extern "C" int entrypoint(int argc, char* argv[]) {
    int in = teaclave_open_input(teabox_arg_or(argc, argv, "input", "input"));
    if (in < 0) return -1;
    int length = teabox_read_all(in, text, MAX_TEXT_BYTES);
    char probe;
    bool more = length == MAX_TEXT_BYTES && teaclave_read_file(in, &probe, 1) > 0;
    teaclave_close_file(in);
    if (length < 0) return -1;
    if (more) return -5;

    for (int i = 0; i < length;) {
        if (!is_word_char(text[i])) {
            i++;
            continue;
        }
        int start = i;
        for (; i < length && is_word_char(text[i]); i++) {
            if (text[i] >= 'A' && text[i] <= 'Z') text[i] = static_cast<char>(text[i] - 'A' + 'a');
        }
        if (!counter.add(text + start, i - start)) return -5;
    }

    sort(counter.begin(), counter.size(), before);

    int out = teaclave_create_output(teabox_arg_or(argc, argv, "output", "output"));
    if (out < 0) return -2;
    for (int i = 0; i < counter.size(); i++) {
        const Word& word = counter.begin()[i];
        if (teabox_write_i64(out, word.count) < 0 || teabox_write_all(out, " ", 1) < 0 ||
            teabox_write_all(out, word.text, word.length) < 0 || teabox_write_all(out, "\n", 1) < 0) {
            teaclave_close_file(out);
            return -2;
        }
    }
    teaclave_close_file(out);
    return counter.size();
}

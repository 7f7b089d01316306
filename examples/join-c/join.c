/*
 * Private join and compute: the names every party knows, with the sum of
 * their amounts.
 *
 * Each of `num_user` parties supplies input `input_data<i>`: lines of
 * `name : amount`. The payload finds the names present in every input and
 * writes `name, total` lines, sorted by name, to every output
 * `output_data<i>`, so each party receives the joined result and nothing
 * else of the others' data. It returns the number of names in the result.
 *
 * Lines that are blank, shorter than three characters, without exactly one
 * ':' or without a non-negative integer amount are skipped. When a name
 * appears twice in one input, the later line counts.
 *
 * Negative return values mean the task's set-up is wrong, and no output is
 * written (so the run fails, naming the missing output):
 *   -1 num_user missing, not a number, below 2 or above MAX_PARTIES
 *   -2 an input could not be opened      -3 an input is larger than MAX_INPUT
 *   -4 more than MAX_ENTRIES names        -5 an output could not be written
 */
#include "teabox.h"

#define MAX_PARTIES 16
#define MAX_INPUT (256 * 1024)
#define MAX_ENTRIES 4096
#define MAX_NAME 64

struct entry {
    char name[MAX_NAME];
    int name_len;
    int64_t total;      /* sum over the parties seen so far */
    int64_t last;       /* this name's amount in the current party */
    int parties;        /* how many parties, in order, have listed the name */
};

static char input[MAX_INPUT];
static struct entry entries[MAX_ENTRIES];
static int entry_count;

static int is_space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

/* Trim [*start, *end) of ASCII whitespace. */
static void trim(const char *text, int *start, int *end) {
    while (*start < *end && is_space(text[*start])) (*start)++;
    while (*end > *start && is_space(text[*end - 1])) (*end)--;
}

static struct entry *find(const char *name, int len) {
    for (int i = 0; i < entry_count; i++) {
        struct entry *e = &entries[i];
        if (e->name_len != len) continue;
        int same = 1;
        for (int k = 0; k < len && same; k++) same = e->name[k] == name[k];
        if (same) return e;
    }
    return NULL;
}

/* Count `amount` for `name` in party `party`; returns -4 when the table is full. */
static int record(int party, const char *name, int len, int64_t amount) {
    struct entry *e = find(name, len);
    if (e == NULL) {
        if (party != 0) return 0; /* missing from party 0: never in the result */
        if (entry_count == MAX_ENTRIES) return -4;
        e = &entries[entry_count++];
        for (int k = 0; k < len; k++) e->name[k] = name[k];
        e->name_len = len;
        e->total = 0;
        e->parties = 0;
    }
    if (e->parties == party) { /* first line for this name in this party */
        e->total += amount;
        e->last = amount;
        e->parties = party + 1;
    } else if (e->parties == party + 1) { /* a repeated line: the later one counts */
        e->total += amount - e->last;
        e->last = amount;
    }
    return 0;
}

static int parse_party(int party, int size) {
    int line = 0;
    while (line < size) {
        int end = line;
        while (end < size && input[end] != '\n') end++;
        int start = line, stop = end;
        line = end + 1;
        trim(input, &start, &stop);
        if (stop - start < 3) continue;
        int colon = -1, colons = 0;
        for (int k = start; k < stop; k++) {
            if (input[k] == ':') {
                colon = k;
                colons++;
            }
        }
        if (colons != 1) continue;
        int name_start = start, name_end = colon;
        trim(input, &name_start, &name_end);
        int64_t amount;
        if (name_end == name_start || name_end - name_start >= MAX_NAME) continue;
        if (teabox_parse_i64_n(input + colon + 1, (size_t)(stop - colon - 1), &amount) != 0 || amount < 0) continue;
        int status = record(party, input + name_start, name_end - name_start, amount);
        if (status != 0) return status;
    }
    return 0;
}

static int name_before(const struct entry *a, const struct entry *b) {
    int n = a->name_len < b->name_len ? a->name_len : b->name_len;
    for (int k = 0; k < n; k++) {
        if (a->name[k] != b->name[k]) return (unsigned char)a->name[k] < (unsigned char)b->name[k];
    }
    return a->name_len < b->name_len;
}

/* Keep the entries every party listed, sorted by name; returns how many. */
static int select_joined(int parties) {
    int kept = 0;
    for (int i = 0; i < entry_count; i++) {
        if (entries[i].parties == parties) entries[kept++] = entries[i];
    }
    for (int i = 1; i < kept; i++) {
        struct entry moving = entries[i];
        int j = i;
        while (j > 0 && name_before(&moving, &entries[j - 1])) {
            entries[j] = entries[j - 1];
            j--;
        }
        entries[j] = moving;
    }
    return kept;
}

/* "input_data" or "output_data" followed by the party number. */
static void data_name(char *buf, const char *prefix, int party) {
    int n = 0;
    while (prefix[n] != '\0') {
        buf[n] = prefix[n];
        n++;
    }
    teabox_format_i64(party, buf + n);
}

static int write_result(int fd, int count) {
    for (int i = 0; i < count; i++) {
        if (teabox_write_all(fd, entries[i].name, entries[i].name_len) < 0) return -5;
        if (teabox_write_str(fd, ", ") < 0 || teabox_write_i64(fd, entries[i].total) < 0) return -5;
        if (teabox_write_str(fd, "\n") < 0) return -5;
    }
    return 0;
}

int entrypoint(int argc, char *argv[]) {
    int64_t parties;
    const char *num_user = teabox_arg(argc, argv, "num_user");
    if (num_user == NULL || teabox_parse_i64(num_user, &parties) != 0 || parties < 2 || parties > MAX_PARTIES) {
        return -1;
    }
    char name[32];
    for (int party = 0; party < parties; party++) {
        data_name(name, "input_data", party);
        int fd = teaclave_open_input(name);
        if (fd < 0) return -2;
        int size = teabox_read_all(fd, input, MAX_INPUT);
        teaclave_close_file(fd);
        if (size < 0) return -2;
        if (size == MAX_INPUT) return -3;
        int status = parse_party(party, size);
        if (status != 0) return status;
    }
    int count = select_joined((int)parties);
    for (int party = 0; party < parties; party++) {
        data_name(name, "output_data", party);
        int fd = teaclave_create_output(name);
        if (fd < 0 || write_result(fd, count) != 0) return -5;
        teaclave_close_file(fd);
    }
    return count;
}

/*
 * builtin-private-join-and-compute: the names every party lists, with the
 * sum of their amounts.
 *
 * Argument `num_user` (at least 2). Input `input_data<i>` of each party:
 * UTF-8 lines of `name : amount`, each trimmed. Lines under 3 bytes, without
 * exactly one ':', or whose trimmed amount is not a u32 are skipped; a later
 * line for the same name replaces an earlier one. Every output
 * `output_data<i>` receives the same `<name>, <sum>` lines (sums wrap as u32,
 * as Teaclave's did), in the order of the first party's list. The result is
 * `<num_user> users join the task in total.`
 */
#include "builtin.h"

typedef struct {
    bt_str name;
    uint32_t amount;
} entry;

typedef struct {
    entry *entries;
    size_t count;
} party;

static entry *find(party *p, bt_str name) {
    for (size_t i = 0; i < p->count; i++)
        if (bt_str_eq(p->entries[i].name, name)) return &p->entries[i];
    return NULL;
}

static bool parse_u32(bt_str s, uint32_t *out) {
    size_t i = 0;
    if (s.len && s.p[0] == '+') i = 1;
    if (i == s.len) return false;
    uint64_t v = 0;
    for (; i < s.len; i++) {
        if (s.p[i] < '0' || s.p[i] > '9') return false;
        v = v * 10 + (uint64_t)(s.p[i] - '0');
        if (v > UINT32_MAX) return false;
    }
    *out = (uint32_t)v;
    return true;
}

static bool read_party(uint64_t index, party *out) {
    const char *name = bt_indexed_name("input_data", index);
    if (!name) return bt_fail_oom(), false;
    bt_str text;
    if (!bt_read_input(name, &text)) return false;
    if (!bt_utf8_valid(text)) {
        bt_buf m = {0};
        bt_puts(&m, "the input '");
        bt_puts(&m, name);
        bt_puts(&m, "' is not UTF-8 text");
        return bt_fail_buf(&m), false;
    }
    size_t pos = 0, lines = 0;
    bt_str line;
    while (bt_next_line(text, &pos, &line)) lines++;
    out->entries = bt_calloc(lines ? lines : 1, sizeof(entry));
    if (!out->entries) return bt_fail_oom(), false;
    out->count = 0;
    for (pos = 0; bt_next_line(text, &pos, &line);) {
        line = bt_trim(line);
        if (line.len < 3) continue;
        size_t colon = 0, colons = 0;
        for (size_t k = 0; k < line.len; k++)
            if (line.p[k] == ':') colon = k, colons++;
        if (colons != 1) continue;
        bt_str who = bt_trim((bt_str){line.p, colon});
        uint32_t amount;
        if (!parse_u32(bt_trim((bt_str){line.p + colon + 1, line.len - colon - 1}), &amount)) continue;
        entry *e = find(out, who);
        if (e) e->amount = amount;
        else out->entries[out->count++] = (entry){who, amount};
    }
    return true;
}

int entrypoint(int argc, char *argv[]) {
    uint64_t parties;
    if (!bt_arg_u64(argc, argv, "num_user", &parties)) return -1;
    if (parties < 2) return bt_fail("The demo requires at least two parties!");
    if (parties > 1024) return bt_fail("num_user is larger than 1024");
    party *all = bt_calloc(parties, sizeof(party));
    if (!all) return bt_fail_oom();
    for (uint64_t i = 0; i < parties; i++)
        if (!read_party(i, &all[i])) return -1;

    bt_buf out = {0};
    for (size_t k = 0; k < all[0].count; k++) {
        entry *first = &all[0].entries[k];
        uint32_t sum = first->amount;
        bool everywhere = true;
        for (uint64_t i = 1; i < parties && everywhere; i++) {
            entry *e = find(&all[i], first->name);
            if (e) sum += e->amount;
            else everywhere = false;
        }
        if (!everywhere) continue;
        bt_put(&out, first->name.p, first->name.len);
        bt_puts(&out, ", ");
        bt_put_u64(&out, sum);
        bt_putc(&out, '\n');
    }
    if (out.failed) return bt_fail_oom();
    for (uint64_t i = 0; i < parties; i++) {
        const char *name = bt_indexed_name("output_data", i);
        if (!name) return bt_fail_oom();
        if (!bt_write_output(name, out.data, out.len)) return -1;
    }
    return bt_result_count(parties, " users join the task in total.");
}

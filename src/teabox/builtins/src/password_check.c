/*
 * builtin-password-check: whether a password is among exposed ones.
 *
 * Input `password`: its first line, trimmed, is the password. Input
 * `exposed_passwords`: one password per line, each trimmed. The result is
 * `true` on an exact, case-sensitive match, else `false`. Teaclave panicked on
 * an empty password file; here that is a clear error.
 */
#include "builtin.h"

int entrypoint(int argc, char *argv[]) {
    (void)argc, (void)argv;
    bt_str password_file, exposed;
    if (!bt_read_input("password", &password_file)) return -1;
    size_t pos = 0;
    bt_str password;
    if (!bt_next_line(password_file, &pos, &password)) return bt_fail("the input 'password' is empty");
    password = bt_trim(password);
    if (!bt_read_input("exposed_passwords", &exposed)) return -1;
    bt_str line;
    pos = 0;
    while (bt_next_line(exposed, &pos, &line))
        if (bt_str_eq(bt_trim(line), password)) return bt_result_str("true");
    return bt_result_str("false");
}

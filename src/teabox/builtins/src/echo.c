/*
 * builtin-echo: returns the argument `message` verbatim.
 */
#include "builtin.h"

int entrypoint(int argc, char *argv[]) {
    const char *message = bt_arg_str(argc, argv, "message");
    if (!message) return -1;
    return bt_result_str(message);
}

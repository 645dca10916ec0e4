/*
 * json_echo: an OpenWhisk-style action for the serve tests. Reads its
 * parameters (a JSON object) from stdin and prints the result object
 * {"echo": <parameters>, "action": "<__OW_ACTION_NAME>"}.
 */
#include <stdio.h>
#include <stdlib.h>

int main(void) {
    static char params[65536];
    size_t n = fread(params, 1, sizeof params - 1, stdin);
    params[n] = '\0';
    const char *action = getenv("__OW_ACTION_NAME");
    printf("{\"echo\": %s, \"action\": \"%s\"}\n", n ? params : "{}", action ? action : "");
    return 0;
}

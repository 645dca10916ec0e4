/*
 * ow_action: an OpenWhisk action for the action-container conformance
 * test. Its parameters (JSON on stdin) pick what it does by the first key
 * it finds; with none of them it echoes the parameters as its result:
 *   "log"      prints "hello stdout" and "hello stderr", then the echo;
 *   "unicode"  prints the snowman line as a log and in the result;
 *   "error"    returns {"error": "sorry"} (an application error);
 *   "array"    returns ["a", "b"];
 *   "notjson"  prints "not a json object" and nothing else;
 *   "exitfail" prints a result, then exits with status 3;
 *   "trap"     traps;
 *   "spin"     never ends;
 *   "env"      returns the __OW_* variables and SOME_VAR, ANOTHER_VAR.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char params[4 << 20];

static const char *env(const char *name) {
    const char *value = getenv(name);
    return value ? value : "<unset>";
}

int main(void) {
    size_t n = fread(params, 1, sizeof params - 1, stdin);
    params[n] = '\0';
    if (strstr(params, "\"log\"")) {
        printf("hello stdout\n");
        fprintf(stderr, "hello stderr\n");
    } else if (strstr(params, "\"unicode\"")) {
        printf("\xe2\x9d\x84 \xe2\x98\x83 \xe2\x9d\x84\n");
        printf("{\"winter\": \"\xe2\x9d\x84 \xe2\x98\x83 \xe2\x9d\x84\"}\n");
        return 0;
    } else if (strstr(params, "\"error\"")) {
        printf("{\"error\": \"sorry\"}\n");
        return 0;
    } else if (strstr(params, "\"array\"")) {
        printf("[\"a\", \"b\"]\n");
        return 0;
    } else if (strstr(params, "\"notjson\"")) {
        printf("not a json object\n");
        return 0;
    } else if (strstr(params, "\"exitfail\"")) {
        printf("{\"exited\": true}\n");
        return 3;
    } else if (strstr(params, "\"trap\"")) {
        __builtin_trap();
    } else if (strstr(params, "\"spin\"")) {
        for (volatile int i = 0;; i++) {
        }
    } else if (strstr(params, "\"env\"")) {
        printf("{\"api_host\": \"%s\", \"api_key\": \"%s\", \"namespace\": \"%s\", "
               "\"action_name\": \"%s\", \"action_version\": \"%s\", "
               "\"activation_id\": \"%s\", \"deadline\": \"%s\", "
               "\"SOME_VAR\": \"%s\", \"ANOTHER_VAR\": \"%s\"}\n",
               env("__OW_API_HOST"), env("__OW_API_KEY"), env("__OW_NAMESPACE"),
               env("__OW_ACTION_NAME"), env("__OW_ACTION_VERSION"),
               env("__OW_ACTIVATION_ID"), env("__OW_DEADLINE"), env("SOME_VAR"),
               env("ANOTHER_VAR"));
        return 0;
    }
    printf("%s\n", n ? params : "{}");
    return 0;
}

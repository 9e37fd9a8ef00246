/*
 * Echo server on uWebSockets v20, for benches/run.sh: every data message is
 * sent back as it came (same opcode). It uses uWebSockets' C API as built
 * into the prebuilt library of the socketify Python package (uWebSockets and
 * uSockets on libuv), since uWebSockets itself is not published in the
 * registries this kit may use. The declarations below are the ones socketify
 * 0.0.31 gives to cffi for that library (socketify/native.py), so they match
 * the binary; only what an echo server needs is declared.
 *
 *   uws-echo --listen 127.0.0.1:PORT
 *
 * Settings match the other echo servers of the kit: no compression, messages
 * up to 64 MiB, no idle timeout, no automatic pings, and a send buffer that is
 * never full (a dropped echo would be a wrong benchmark, so it aborts).
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct us_socket_context_options_t {
    const char *key_file_name;
    const char *cert_file_name;
    const char *passphrase;
    const char *dh_params_file_name;
    const char *ca_file_name;
    const char *ssl_ciphers;
    int ssl_prefer_low_memory_usage;
};
struct us_listen_socket_t;

typedef enum { DISABLED = 0 } uws_compress_options_t;
typedef enum { CONTINUATION = 0, TEXT = 1, BINARY = 2, CLOSE = 8, PING = 9, PONG = 10 } uws_opcode_t;
typedef enum { BACKPRESSURE, SUCCESS, DROPPED } uws_sendstatus_t;
typedef struct {
    int port;
    const char *host;
    int options;
} uws_app_listen_config_t;

typedef struct uws_app_s uws_app_t;
typedef struct uws_req_s uws_req_t;
typedef struct uws_res_s uws_res_t;
typedef struct uws_socket_context_s uws_socket_context_t;
typedef struct uws_websocket_s uws_websocket_t;

typedef void (*uws_websocket_handler)(uws_websocket_t *ws, void *user_data);
typedef void (*uws_websocket_message_handler)(uws_websocket_t *ws, const char *message, size_t length,
                                              uws_opcode_t opcode, void *user_data);
typedef void (*uws_websocket_ping_pong_handler)(uws_websocket_t *ws, const char *message, size_t length,
                                                void *user_data);
typedef void (*uws_websocket_close_handler)(uws_websocket_t *ws, int code, const char *message, size_t length,
                                            void *user_data);
typedef void (*uws_websocket_upgrade_handler)(uws_res_t *response, uws_req_t *request,
                                              uws_socket_context_t *context, void *user_data);
typedef void (*uws_websocket_subscription_handler)(uws_websocket_t *ws, const char *topic_name,
                                                   size_t topic_name_length, int new_number_of_subscriber,
                                                   int old_number_of_subscriber, void *user_data);
typedef struct {
    uws_compress_options_t compression;
    unsigned int maxPayloadLength;
    unsigned short idleTimeout;
    unsigned int maxBackpressure;
    bool closeOnBackpressureLimit;
    bool resetIdleTimeoutOnSend;
    bool sendPingsAutomatically;
    unsigned short maxLifetime;
    uws_websocket_upgrade_handler upgrade;
    uws_websocket_handler open;
    uws_websocket_message_handler message;
    uws_websocket_handler drain;
    uws_websocket_ping_pong_handler ping;
    uws_websocket_ping_pong_handler pong;
    uws_websocket_close_handler close;
    uws_websocket_subscription_handler subscription;
} uws_socket_behavior_t;
typedef void (*uws_listen_handler)(struct us_listen_socket_t *listen_socket, uws_app_listen_config_t config,
                                   void *user_data);

uws_app_t *uws_create_app(int ssl, struct us_socket_context_options_t options);
void uws_ws(int ssl, uws_app_t *app, const char *pattern, uws_socket_behavior_t behavior, void *user_data);
uws_sendstatus_t uws_ws_send(int ssl, uws_websocket_t *ws, const char *message, size_t length,
                             uws_opcode_t opcode);
void uws_app_listen_with_config(int ssl, uws_app_t *app, uws_app_listen_config_t config,
                                uws_listen_handler handler, void *user_data);
void uws_app_run(int ssl, uws_app_t *app);

static void on_message(uws_websocket_t *ws, const char *message, size_t length, uws_opcode_t opcode,
                       void *user_data) {
    (void)user_data;
    if (uws_ws_send(0, ws, message, length, opcode) == DROPPED) {
        fprintf(stderr, "uws-echo: an echo of %zu bytes was dropped\n", length);
        abort();
    }
}

static void on_listen(struct us_listen_socket_t *listen_socket, uws_app_listen_config_t config, void *user_data) {
    (void)user_data;
    if (!listen_socket) {
        fprintf(stderr, "uws-echo: cannot listen on %s:%d\n", config.host, config.port);
        exit(1);
    }
    fprintf(stderr, "uws-echo: listening on %s:%d\n", config.host, config.port);
}

int main(int argc, char **argv) {
    if (argc != 3 || strcmp(argv[1], "--listen") != 0 || !strchr(argv[2], ':')) {
        fprintf(stderr, "usage: uws-echo --listen HOST:PORT\n");
        return 64;
    }
    char *host = argv[2];
    char *colon = strrchr(host, ':');
    *colon = '\0';
    int port = atoi(colon + 1);

    struct us_socket_context_options_t options = {0};
    uws_app_t *app = uws_create_app(0, options);
    uws_socket_behavior_t behavior = {0};
    behavior.compression = DISABLED;
    behavior.maxPayloadLength = 64u << 20;
    behavior.idleTimeout = 0;
    behavior.maxBackpressure = 256u << 20;
    behavior.closeOnBackpressureLimit = false;
    behavior.sendPingsAutomatically = false;
    behavior.message = on_message;
    uws_ws(0, app, "/*", behavior, NULL);
    uws_app_listen_config_t config = {.port = port, .host = host, .options = 0};
    uws_app_listen_with_config(0, app, config, on_listen, NULL);
    uws_app_run(0, app);
    return 0;
}

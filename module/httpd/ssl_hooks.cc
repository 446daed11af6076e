#include "httpd/ssl_hooks.h"

#include "httpd/guard.h"
#include "httpd/server_config.h"
#include "httpd/incoming_tls_connection.h"
#include "httpd/vhost_tls.h"

namespace gtls {

namespace {

int gtls_ssl_conn_is_ssl(conn_rec* c) {
    return TlsConnection::of(c) != nullptr ? OK : DECLINED;
}

const char* gtls_ssl_var_lookup(apr_pool_t* pool, server_rec* s, conn_rec* c, request_rec*, const char* name) {
    return guard(s, "ssl_var_lookup", static_cast<const char*>(nullptr), [&]() -> const char* {
        IncomingTlsConnection* connection = IncomingTlsConnection::of(c);
        if (connection == nullptr) return nullptr;
        const char* value = connection->variable(name, pool);
        return value != nullptr ? apr_pstrdup(pool, value) : nullptr;
    });
}

int gtls_fixups(request_rec* r) {
    return guard(r->server, "fixups", DECLINED, [&] {
        IncomingTlsConnection* connection = IncomingTlsConnection::of(r->connection);
        if (connection == nullptr) return DECLINED;
        connection->export_variables(r->subprocess_env);
        return DECLINED;
    });
}

// RFC 9110 section 15.5.20: a request for a host the TLS connection was not
// made for is misdirected. As mod_ssl: checked only when the client sent SNI,
// only on requests read from the client (not on an ErrorDocument's internal
// redirect, not on forward proxy requests), and only when the Host's vhost
// would not have made the same connection: browsers reuse an HTTP/2
// connection for every name its certificate covers.
int gtls_post_read_request(request_rec* r) {
    return guard(r->server, "post_read_request", HTTP_INTERNAL_SERVER_ERROR, [&] {
        IncomingTlsConnection* connection = IncomingTlsConnection::of(r->connection);
        if (connection == nullptr || connection->sni().empty()) return DECLINED;
        if (!ap_is_initial_req(r) || r->proxyreq != PROXYREQ_NONE) return DECLINED;
        if (r->hostname == nullptr) {
            ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r,
                          "GTLS0220: SNI '%s' but the request names no host (no Host header); answering 400",
                          ap_escape_logitem(r->pool, connection->sni().c_str()));
            return HTTP_BAD_REQUEST;
        }
        const VhostTls* requested = server_config(r->server).tls;
        if (requested == connection->vhost() ||
            (requested != nullptr && requested->serves_like(*connection->vhost()))) {
            return DECLINED;
        }
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r,
                      "GTLS0211: SNI '%s' chose %s but Host '%s' chose %s, whose TLS setup differs; "
                      "answering 421 Misdirected Request",
                      ap_escape_logitem(r->pool, connection->sni().c_str()), connection->vhost()->id().c_str(),
                      ap_escape_logitem(r->pool, r->hostname), describe_server(r->server).c_str());
        return HTTP_MISDIRECTED_REQUEST;
    });
}

// mod_log_config's %{NAME}x, as mod_ssl provides it. It asks httpd's
// ssl_var_lookup hook, so it answers for mod_ssl connections too and it does not
// matter which of the two modules registered it last.
const char* log_ssl_variable(request_rec* r, char* name) {
    return guard(r->server, "%x log handler", static_cast<const char*>(nullptr), [&]() -> const char* {
        return ap_ssl_var_lookup(r->pool, r->server, r->connection, r, name);
    });
}

// ap_expr's %{SSL_*} (Require expr, <If>, mod_rewrite's expr=), as mod_ssl
// provides it. Through httpd's ssl_var_lookup hook, so mod_ssl connections are
// answered too whichever module parsed the expression.
const char* expr_ssl_variable(ap_expr_eval_ctx_t* ctx, const void* data) {
    if (ctx->c == nullptr) return nullptr;
    return ap_ssl_var_lookup(ctx->p, ctx->s, ctx->c, ctx->r, static_cast<const char*>(data));
}

int gtls_expr_lookup(ap_expr_lookup_parms* parms) {
    if (parms->type != AP_EXPR_FUNC_VAR || strncasecmp(parms->name, "SSL_", 4) != 0) return DECLINED;
    *parms->func = reinterpret_cast<const void*>(expr_ssl_variable);
    *parms->data = parms->name;
    return OK;
}

int register_log_handler(apr_pool_t* pconf, apr_pool_t*, apr_pool_t*) {
    auto* register_handler = APR_RETRIEVE_OPTIONAL_FN(ap_register_log_handler);
    if (register_handler != nullptr) register_handler(pconf, const_cast<char*>("x"), log_ssl_variable, 0);
    return OK;
}

}  // namespace

void register_ssl_hooks() {
    ap_hook_pre_config(register_log_handler, nullptr, nullptr, APR_HOOK_LAST);
    ap_hook_ssl_conn_is_ssl(gtls_ssl_conn_is_ssl, nullptr, nullptr, APR_HOOK_MIDDLE);
    ap_hook_ssl_var_lookup(gtls_ssl_var_lookup, nullptr, nullptr, APR_HOOK_MIDDLE);
    ap_hook_fixups(gtls_fixups, nullptr, nullptr, APR_HOOK_MIDDLE);
    ap_hook_post_read_request(gtls_post_read_request, nullptr, nullptr, APR_HOOK_MIDDLE);
    ap_hook_expr_lookup(gtls_expr_lookup, nullptr, nullptr, APR_HOOK_MIDDLE);
}

}  // namespace gtls

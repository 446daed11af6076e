// Certificates other modules provide for our vhosts through httpd's
// ssl_add_cert_files and ssl_add_fallback_cert_files hooks (http_ssl.h), and
// the OCSP responses they keep for them: in practice mod_md, which gets
// certificates by ACME and staples with MDStapling.
#pragma once

#include "httpd/httpd.h"

namespace gtls {

// Whether some module registered ssl_add_cert_files (mod_md is loaded): then a
// GnuTLSEnable vhost without certificate lines is not a configuration error
// before that module was asked.
bool certificate_providers_hooked();

// Asks the providers, for every enabled server, for its certificate files;
// one that has neither its own nor the providers' certificates gets their
// fallback (mod_md's self-signed stand-in). Servers given files are built
// again with them. Runs in post_config, after mod_md's early post_config
// (which sets up what it answers from) and before its late one (which needs
// to know which servers do TLS: this call tells it). Logs every problem and
// returns false if some enabled server has no certificate.
bool add_provided_certificates(server_rec* main_server, apr_pool_t* pconf);

// Lets the providers (mod_md with MDStapling) keep the OCSP responses of
// every served chain without a GnuTLSOCSPResponseFile. post_config, after
// add_provided_certificates, before mod_gtls's fetcher starts.
void offer_staples_to_providers(server_rec* main_server, apr_pool_t* pconf);

// 503 for requests on a connection that got mod_md's fallback certificate:
// nothing the client could trust was served, so nothing is answered either.
int refuse_requests_on_stand_in_certificates(request_rec* r);

}  // namespace gtls

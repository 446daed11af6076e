// mod_status section: the OCSP staple of every certificate, as this worker
// process sees it.
#pragma once

namespace gtls {

void register_status_page();

}  // namespace gtls

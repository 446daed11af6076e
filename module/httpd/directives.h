// The GnuTLS* directive table.
#pragma once

#include "httpd/httpd.h"

namespace gtls {

extern const command_rec kDirectives[];

}  // namespace gtls

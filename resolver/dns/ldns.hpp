// Include ldns through this header. ldns's common.h defines bool, true and
// false as macros unless this guard is set, and those macros break C++
// standard headers included after it (<optional>, and libstdc++'s traits
// under clang).
#pragma once

#ifndef __bool_true_false_are_defined
#define __bool_true_false_are_defined 1
#endif
#include <ldns/ldns.h>

// The compiled blocking policy in force, published to the workers.
#pragma once

#include "hush/blocklists/policy.h"
#include "base/published.hpp"

namespace hush {

using PolicyStore = Published<blocklists::Policy>;
using PolicyView = PublishedView<blocklists::Policy>;

}  // namespace hush

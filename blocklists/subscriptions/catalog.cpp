#include "hush/blocklists/subscriptions/catalog.h"

#include <array>

namespace hush::blocklists::subs {

namespace {

#define HAGEZI "https://raw.githubusercontent.com/hagezi/dns-blocklists/main/adblock/"
constexpr std::string_view kHagezi = "https://github.com/hagezi/dns-blocklists";
constexpr std::string_view kStevenBlack = "https://github.com/StevenBlack/hosts";
constexpr std::string_view kSpy = "https://github.com/crazy-max/WindowsSpyBlocker";
constexpr std::string_view kPerflyst = "https://github.com/Perflyst/PiHoleBlocklist";
constexpr std::string_view kOisd = "https://oisd.nl";

// Keep docs/CATALOG.md in step with this table.
// Formats: HaGeZi's adblock files (||d^ = the name and its subdomains, which
// is what HaGeZi means); StevenBlack and WindowsSpyBlocker hosts files (exact
// names, as their authors mean them); Perflyst's Pi-hole lists (exact names);
// OISD's adblock form (subdomains).
constexpr std::array<CatalogEntry, 28> kCatalog{{
    {"hagezi-xiaomi", "HaGeZi native tracker: Xiaomi", "Xiaomi", "telemetry", HAGEZI "native.xiaomi.txt", "adblock", "GPL-3.0", kHagezi, true, true},
    {"hagezi-samsung", "HaGeZi native tracker: Samsung", "Samsung", "telemetry", HAGEZI "native.samsung.txt", "adblock", "GPL-3.0", kHagezi, true, true},
    {"hagezi-huawei", "HaGeZi native tracker: Huawei", "Huawei", "telemetry", HAGEZI "native.huawei.txt", "adblock", "GPL-3.0", kHagezi, true, true},
    {"hagezi-oppo-realme", "HaGeZi native tracker: OPPO/Realme", "OPPO/Realme", "telemetry", HAGEZI "native.oppo-realme.txt", "adblock", "GPL-3.0", kHagezi, true, true},
    {"hagezi-vivo", "HaGeZi native tracker: Vivo", "Vivo", "telemetry", HAGEZI "native.vivo.txt", "adblock", "GPL-3.0", kHagezi, true, true},
    {"hagezi-apple", "HaGeZi native tracker: Apple", "Apple", "telemetry", HAGEZI "native.apple.txt", "adblock", "GPL-3.0", kHagezi, true, true},
    {"hagezi-amazon", "HaGeZi native tracker: Amazon", "Amazon", "telemetry", HAGEZI "native.amazon.txt", "adblock", "GPL-3.0", kHagezi, true, true},
    {"hagezi-winoffice", "HaGeZi native tracker: Windows/Office", "Microsoft", "telemetry", HAGEZI "native.winoffice.txt", "adblock", "GPL-3.0", kHagezi, true, true},
    {"hagezi-tiktok", "HaGeZi native tracker: TikTok", "TikTok", "telemetry", HAGEZI "native.tiktok.txt", "adblock", "GPL-3.0", kHagezi, true, true},
    {"hagezi-tiktok-extended", "HaGeZi native tracker: TikTok (extended, blocks the app)", "TikTok", "telemetry", HAGEZI "native.tiktok.extended.txt", "adblock", "GPL-3.0", kHagezi, true, true},
    {"hagezi-lgwebos", "HaGeZi native tracker: LG webOS", "LG", "telemetry", HAGEZI "native.lgwebos.txt", "adblock", "GPL-3.0", kHagezi, true, true},
    {"hagezi-roku", "HaGeZi native tracker: Roku", "Roku", "telemetry", HAGEZI "native.roku.txt", "adblock", "GPL-3.0", kHagezi, true, true},
    {"hagezi-doh", "HaGeZi encrypted DNS servers (browsers' and apps' own DoH/DoT/DoQ)", "", "bypass", HAGEZI "doh.txt", "adblock", "GPL-3.0", kHagezi, true, true},
    {"hagezi-light", "HaGeZi Multi LIGHT", "", "multi", HAGEZI "light.txt", "adblock", "GPL-3.0", kHagezi, true, true},
    {"hagezi-multi", "HaGeZi Multi NORMAL", "", "multi", HAGEZI "multi.txt", "adblock", "GPL-3.0", kHagezi, true, true},
    {"hagezi-pro", "HaGeZi Multi PRO", "", "multi", HAGEZI "pro.txt", "adblock", "GPL-3.0", kHagezi, true, true},
    {"hagezi-pro-plus", "HaGeZi Multi PRO++", "", "multi", HAGEZI "pro.plus.txt", "adblock", "GPL-3.0", kHagezi, true, true},
    {"stevenblack-unified", "StevenBlack unified hosts (adware + malware)", "", "ads",
     "https://raw.githubusercontent.com/StevenBlack/hosts/master/hosts", "hosts", "MIT", kStevenBlack, false, true},
    {"windowsspyblocker-spy", "WindowsSpyBlocker: Windows telemetry (spy)", "Microsoft", "telemetry",
     "https://raw.githubusercontent.com/crazy-max/WindowsSpyBlocker/master/data/hosts/spy.txt", "hosts", "MIT", kSpy, false, true},
    {"windowsspyblocker-extra", "WindowsSpyBlocker: extra (third-party telemetry in Windows)", "Microsoft", "telemetry",
     "https://raw.githubusercontent.com/crazy-max/WindowsSpyBlocker/master/data/hosts/extra.txt", "hosts", "MIT", kSpy, false, true},
    {"windowsspyblocker-update", "WindowsSpyBlocker: Windows Update (blocks updates)", "Microsoft", "telemetry",
     "https://raw.githubusercontent.com/crazy-max/WindowsSpyBlocker/master/data/hosts/update.txt", "hosts", "MIT", kSpy, false, true},
    {"perflyst-smarttv", "Perflyst Smart-TV blocklist", "Smart TVs", "telemetry",
     "https://raw.githubusercontent.com/Perflyst/PiHoleBlocklist/master/SmartTV.txt", "domains", "MIT", kPerflyst, false, true},
    {"perflyst-smarttv-regex", "Perflyst Smart-TV regex list (LG regional ads)", "Smart TVs", "telemetry",
     "https://raw.githubusercontent.com/Perflyst/PiHoleBlocklist/master/regex.list", "regex", "MIT", kPerflyst, false, true},
    {"perflyst-android", "Perflyst Android tracking", "Android", "telemetry",
     "https://raw.githubusercontent.com/Perflyst/PiHoleBlocklist/master/android-tracking.txt", "domains", "MIT", kPerflyst, false, true},
    {"perflyst-firetv", "Perflyst Amazon Fire TV", "Amazon", "telemetry",
     "https://raw.githubusercontent.com/Perflyst/PiHoleBlocklist/master/AmazonFireTV.txt", "domains", "MIT", kPerflyst, false, true},
    {"perflyst-sessionreplay", "Perflyst session-replay scripts", "", "telemetry",
     "https://raw.githubusercontent.com/Perflyst/PiHoleBlocklist/master/SessionReplay.txt", "domains", "MIT", kPerflyst, false, true},
    {"oisd-small", "OISD small", "", "multi", "https://small.oisd.nl/", "adblock",
     "no licence file; free use per oisd.nl", kOisd, true, false},
    {"oisd-big", "OISD big", "", "multi", "https://big.oisd.nl/", "adblock",
     "no licence file; free use per oisd.nl", kOisd, true, false},
}};
#undef HAGEZI

}  // namespace

std::span<const CatalogEntry> catalog() { return kCatalog; }

const CatalogEntry* find_catalog_entry(std::string_view id) {
  for (const CatalogEntry& e : kCatalog)
    if (e.id == id) return &e;
  return nullptr;
}

}  // namespace hush::blocklists::subs

#include "config/schedule.hpp"

#include <cctype>
#include <cstdio>

namespace hush {

namespace {

constexpr const char* kDayNames[7] = {"mon", "tue", "wed", "thu", "fri", "sat", "sun"};

int day_index(const std::string& name) {
  for (int i = 0; i < 7; ++i)
    if (name == kDayNames[i]) return i;
  return -1;
}

}  // namespace

uint8_t parse_days(const std::string& text, std::string& error) {
  std::string t;
  for (char c : text) t += char(std::tolower(static_cast<unsigned char>(c)));
  if (t == "daily" || t == "every day" || t == "mon-sun") return 0x7f;
  if (t == "weekdays") return 0x1f;
  if (t == "weekends") return 0x60;
  uint8_t days = 0;
  size_t start = 0;
  while (start <= t.size()) {
    size_t comma = t.find(',', start);
    std::string part = t.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    size_t dash = part.find('-');
    int a = day_index(part.substr(0, dash));
    int b = dash == std::string::npos ? a : day_index(part.substr(dash + 1));
    if (a < 0 || b < 0) {
      error = "days: expected mon-fri, sat,sun, daily, weekdays or weekends, not '" + text + "'";
      return 0;
    }
    // A range may wrap the week's end: "fri-mon".
    for (int i = a;; i = (i + 1) % 7) {
      days |= uint8_t(1u << i);
      if (i == b) break;
    }
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return days;
}

std::string days_text(uint8_t days) {
  if (days == 0x7f) return "daily";
  std::string out;
  for (int i = 0; i < 7; ++i) {
    if (!(days & (1u << i))) continue;
    int j = i;
    while (j + 1 < 7 && (days & (1u << (j + 1)))) ++j;
    out += (out.empty() ? "" : ",") + std::string(kDayNames[i]);
    if (j > i) out += std::string(j == i + 1 ? "," : "-") + kDayNames[j];
    i = j;
  }
  return out;
}

int parse_clock(const std::string& text, bool end) {
  size_t colon = text.find(':');
  if (colon == std::string::npos || colon == 0 || colon > 2 || text.size() != colon + 3) return -1;
  int h = 0, m = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    if (i == colon) continue;
    if (!std::isdigit(static_cast<unsigned char>(text[i]))) return -1;
    (i < colon ? h : m) = (i < colon ? h : m) * 10 + (text[i] - '0');
  }
  if (m > 59 || h > 24 || (h == 24 && (m != 0 || !end))) return -1;
  return h * 60 + m;
}

std::string clock_text(int minutes) {
  char buf[8];
  snprintf(buf, sizeof buf, "%02d:%02d", minutes / 60 % 100, minutes % 60);
  return buf;
}

}  // namespace hush

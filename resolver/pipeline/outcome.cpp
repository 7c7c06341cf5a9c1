#include "pipeline/outcome.hpp"

namespace hush {

const char* to_string(Outcome o) {
  switch (o) {
    case Outcome::None: return "none";
    case Outcome::Cached: return "cached";
    case Outcome::Forwarded: return "forwarded";
    case Outcome::Blocked: return "blocked";
    case Outcome::Local: return "local";
    case Outcome::Refused: return "refused";
    case Outcome::NotAllowed: return "not allowed";
    case Outcome::Error: return "error";
    case Outcome::Dropped: return "dropped";
    case Outcome::Stale: return "stale";
  }
  return "?";
}

std::optional<querylog::Status> log_status(Outcome o) {
  switch (o) {
    case Outcome::Cached:
    case Outcome::Stale: return querylog::Status::Cached;
    case Outcome::Forwarded: return querylog::Status::Forwarded;
    case Outcome::Blocked: return querylog::Status::Blocked;
    case Outcome::Local: return querylog::Status::Local;
    case Outcome::Refused: return querylog::Status::Refused;
    case Outcome::Error: return querylog::Status::Error;
    case Outcome::None:
    case Outcome::NotAllowed:
    case Outcome::Dropped: return std::nullopt;
  }
  return std::nullopt;
}

}  // namespace hush

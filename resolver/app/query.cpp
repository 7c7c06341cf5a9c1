#include "app/query.hpp"

#include <cctype>
#include <memory>
#include <vector>

#include "app/server_runtime.hpp"
#include "base/address.hpp"
#include "base/log.hpp"
#include "dns/ldns.hpp"
#include "pipeline/pipeline.hpp"
#include "policy/inputs.hpp"

namespace hush {

namespace {

constexpr int kExitUsage = 2;

// A recursive query for `name`, as a stub resolver sends it; empty when the
// name is not a domain name.
std::vector<uint8_t> query_wire(const std::string& name, ldns_rr_type type) {
  ldns_rdf* owner = ldns_dname_new_frm_str(name.c_str());
  if (!owner) return {};
  ldns_pkt* pkt = ldns_pkt_query_new(owner, type, LDNS_RR_CLASS_IN, LDNS_RD);
  if (!pkt) return {};
  ldns_pkt_set_id(pkt, 1);
  uint8_t* wire = nullptr;
  size_t size = 0;
  std::vector<uint8_t> out;
  if (ldns_pkt2wire(&wire, pkt, &size) == LDNS_STATUS_OK) out.assign(wire, wire + size);
  free(wire);
  ldns_pkt_free(pkt);
  return out;
}

// The answer a local stage wrote: its records' data, or its rcode.
std::string answer_text(const uint8_t* wire, size_t len) {
  ldns_pkt* pkt = nullptr;
  if (ldns_wire2pkt(&pkt, wire, len) != LDNS_STATUS_OK) return "?";
  std::string out;
  if (ldns_pkt_get_rcode(pkt) != LDNS_RCODE_NOERROR) {
    char* rc = ldns_pkt_rcode2str(ldns_pkt_get_rcode(pkt));
    out = rc ? rc : "?";
    free(rc);
  } else {
    ldns_rr_list* answer = ldns_pkt_answer(pkt);
    for (size_t i = 0; i < ldns_rr_list_rr_count(answer); ++i) {
      ldns_rr* rr = ldns_rr_list_rr(answer, i);
      for (size_t f = 0; f < ldns_rr_rd_count(rr); ++f) {
        char* text = ldns_rdf2str(ldns_rr_rdf(rr, f));
        out += std::string(out.empty() ? "" : " ") + (text ? text : "");
        free(text);
      }
    }
  }
  ldns_pkt_free(pkt);
  return out.empty() ? "with no records" : out;
}

// "allowed by LIST (rule R)" or "blocked by ...": the policy's decision.
std::string decision_text(const blocklists::Decision& d) {
  std::string what = d.action == blocklists::Action::Block ? "blocked" : "allowed";
  return what + " by " + std::string(d.list) + " (rule " + blocklists::rule_text(d) + ")";
}

// One line: the verdict, why, and the stage of the pipeline that gave it.
std::string describe(const QueryContext& ctx, Verdict v, const Config& cfg, const BlockSettings& block,
                     const blocklists::Policy& policy) {
  switch (ctx.outcome) {
    case Outcome::Blocked:
      return decision_text(ctx.decision) +
             (ctx.decision.forced == blocklists::Forced::NxDomain ? ", answered NXDOMAIN"
                                                                  : ", answered with " + cfg.blocking.mode) +
             " [stage: policy]";
    case Outcome::Local:
      return std::string(ctx.reason) + ", answered " + answer_text(ctx.out, ctx.out_len) + " [stage: local]";
    case Outcome::Refused:
    case Outcome::NotAllowed:
      return std::string(v == Verdict::Drop ? "dropped: " : "refused: ") + std::string(ctx.reason) +
             " [stage: access]";
    case Outcome::Forwarded: {
      std::string why = !block.enabled                                      ? "blocking is off"
                        : policy.paused(ctx.groups)                        ? "blocking is paused for this client"
                        : ctx.decision.action == blocklists::Action::Allow ? decision_text(ctx.decision)
                                                                            : "not on any list";
      std::string where = ctx.route ? "forwarded to the servers of " + cfg.forwards[ctx.route - 1].domain
                                    : "forwarded upstream";
      return why + ", " + where + " [stage: upstream]";
    }
    default:
      return std::string(to_string(ctx.outcome)) + ": " + std::string(ctx.reason) + " [stage: parse]";
  }
}

}  // namespace

int run_query(const Config& cfg, const QueryRequest& q, std::ostream& out, std::ostream& err) {
  ldns_rr_type type = ldns_get_rr_type_by_name(q.type.c_str());
  if (type == 0) {
    err << "hush: unknown record type '" << q.type << "'\n";
    return kExitUsage;
  }
  QueryContext ctx;
  std::string error;
  if (!parse_address(q.client.empty() ? "127.0.0.1" : q.client, 0, ctx.client.addr, error)) {
    err << "hush: --client: " << error << "\n";
    return kExitUsage;
  }
  std::string name = q.name;
  for (char& c : name) c = char(std::tolower(static_cast<unsigned char>(c)));
  while (!name.empty() && name.back() == '.') name.pop_back();
  std::vector<uint8_t> wire = query_wire(name.empty() ? "." : name, type);
  if (wire.empty()) {
    err << "hush: '" << q.name << "' is not a domain name\n";
    return kExitUsage;
  }

  // The server's pieces, built from the same inputs; only the cache is
  // empty (the server's lives in its memory).
  log::set_level(log::Level::Warn);
  PolicyStore policies;
  auto built = policy::build_policy(cfg, false);
  if (!built) return 1;
  const std::shared_ptr<const blocklists::Policy> policy = built;
  policies.publish(std::move(built));
  LocalStore local;
  local.publish(policy::build_local(cfg));
  cache::Cache cache(0, {});
  auto counters = std::make_unique<Counters>();
  RateLimiter limiter;
  const BlockSettings block = block_settings(cfg);
  Pipeline pipeline(cache, *counters, policies, block, cfg.access_settings, limiter, local, cfg.forwards);

  uint8_t answer[4096];
  ctx.msg = wire.data();
  ctx.len = wire.size();
  ctx.out = answer;
  ctx.out_cap = sizeof answer;
  Verdict v = pipeline.on_query(ctx);
  out << name << " " << q.type << ": " << describe(ctx, v, cfg, block, *policy) << "\n";
  return 0;
}

}  // namespace hush

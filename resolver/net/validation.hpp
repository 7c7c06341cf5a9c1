// DNSSEC validation for one worker: replies that need it wait here while
// the validator's chain (DS and DNSKEY sets from the trust anchor down) is
// fetched, and come back to the worker's loop once Secure, Insecure or Bogus.
//
// Why threads and blocking fetches: the validator (validate/) does no I/O
// and says which DS or DNSKEY answer it needs next. Asking those through
// the worker's own asynchronous forwarder would make the in-flight table
// carry questions without clients and resume validations from its reply
// path; a small pool of threads per worker that ask the same upstream
// servers with ldns_resolver (DO and CD set, the upstream timeout per
// attempt, TCP when truncated) does the same work with far less machinery.
// Only misses whose chain is not cached go to a thread (finish_now() takes
// the others on the loop), and the bounds below cap what one question can
// cost. Results reach the loop through uv_async.
#pragma once

#include <uv.h>

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "validate/validator.hpp"

namespace hush::net {

class Validations {
 public:
  struct Bounds {
    unsigned threads = 2;          // per worker
    size_t max_queue = 256;        // questions waiting for a thread, per worker
    size_t max_fetches = 24;       // DS/DNSKEY questions for one answer
    unsigned timeout_ms = 1500;    // per fetch attempt and server
    unsigned total_ms = 6000;      // for one answer's whole chain
  };
  struct Job {
    std::string key;  // the in-flight question's key
    std::vector<uint8_t> qname;  // wire form
    uint16_t qtype = 0;
    bool do_bit = false;  // the clients asked with DO: keep the DNSSEC records
    std::vector<uint8_t> reply;
  };
  struct Done {
    std::string key;
    validate::Result result;
    // The reply as it is to be served: AD set only when Secure, RRSIG,
    // NSEC and NSEC3 records left out when the clients did not ask with DO.
    std::vector<uint8_t> reply;
  };

  Validations(uv_loop_t* loop, const validate::Validator& validator, std::vector<sockaddr_storage> upstreams,
              Bounds bounds, std::function<void(Done&)> on_done);
  ~Validations();
  Validations(const Validations&) = delete;
  Validations& operator=(const Validations&) = delete;

  // Validates on the caller's thread when everything the chain needs is
  // already known (the usual case once a zone's keys are cached), so most
  // misses never wait for a thread; false when fetches are needed.
  bool finish_now(const Job& job, Done& done) const;
  // Queues a reply for validation; false when the queue is full.
  bool submit(Job job);
  // Stops the threads (after their current question) and closes the handle.
  void close();

 private:
  void run();
  Done work(const Job& job, const std::vector<void*>& resolvers);
  void take_done();

  const validate::Validator& validator_;
  std::vector<sockaddr_storage> upstreams_;
  Bounds bounds_;
  std::function<void(Done&)> on_done_;
  uv_async_t async_;
  std::mutex mu_;
  std::condition_variable wake_;
  std::deque<Job> jobs_;
  std::vector<Done> done_;
  bool stopping_ = false;
  bool closed_ = false;
  std::vector<std::thread> threads_;
};

// The reply as served to clients (see Done::reply); the reply unchanged
// when it cannot be parsed.
std::vector<uint8_t> served_form(const std::vector<uint8_t>& reply, bool secure, bool do_bit, uint16_t qtype);

}  // namespace hush::net

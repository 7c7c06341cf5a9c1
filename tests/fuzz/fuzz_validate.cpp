// Any reply an upstream (or a spoofer) can send into DNSSEC validation:
// the answer itself, and the same bytes again as the answer to every DS or
// DNSKEY question the validator then asks, so the chain chase, the proofs
// of denial and the signature checks all see hostile input.
#include <cstdint>
#include <string>
#include <vector>

#include "validate/validator.hpp"

using namespace hush;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static validate::KeyCache keys(64);
  static validate::Validator validator = [] {
    std::vector<validate::Anchor> anchors;
    std::string error;
    validate::parse_anchors(
        ". 172800 IN DS 20326 8 2 E06D44B80B8F1D39A95C0B0D7C65D08458E880409BBC683457104237C7F8EC8D\n"
        "test. 3600 IN DNSKEY 257 3 13 "
        "mdsswUyr3DPW132mOi8V9xESWE8jTo0dxCjjnopKl+GqJxpVXckHAeF+KkxLbxILfDLUT0rAK9iUzy1L53eKGQ==\n",
        anchors, error);
    return validate::Validator(std::move(anchors), keys);
  }();
  static const uint8_t qname[] = {3, 'w', 'w', 'w', 4, 't', 'e', 's', 't', 0};
  validate::Fetched fetched;
  // A bounded chase: each round answers the one question it asked for.
  for (int round = 0; round < 8; ++round) {
    validate::Result r = validator.validate(data, size, qname, sizeof qname, 1, fetched, 1'700'000'000);
    if (r.state != validate::State::NeedMore || fetched.count(r.fetch)) break;
    fetched[r.fetch].assign(data, data + size);
  }
  return 0;
}

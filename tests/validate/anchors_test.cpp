#include "validate/anchors.hpp"

#include <catch2/catch.hpp>

using namespace hush::validate;

TEST_CASE("trust anchors are read per zone, DS and DNSKEY alike") {
  std::vector<Anchor> anchors;
  std::string error;
  REQUIRE(parse_anchors("; the root's key\n"
                        ". 172800 IN DS 20326 8 2 E06D44B80B8F1D39A95C0B0D7C65D08458E880409BBC683457104237C7F8EC8D\n"
                        "\n"
                        "Test. 3600 IN DNSKEY 257 3 13 mdsswUyr3DPW132mOi8V9xESWE8jTo0dxCjjnopKl+GqJxpVXckHAeF+KkxLbxILfDLUT0rAK9iUzy1L53eKGQ==\n",
                        anchors, error));
  REQUIRE(anchors.size() == 2);
  CHECK(anchors[0].zone == ".");
  CHECK(anchors[1].zone == "test.");
  CHECK(ldns_rr_list_rr_count(anchors[1].rrs.get()) == 1);
}

TEST_CASE("a trust anchor file that is not one is refused with its line") {
  std::vector<Anchor> anchors;
  std::string error;
  CHECK_FALSE(parse_anchors("test. 3600 IN DNSKEY not a key\n", anchors, error));
  CHECK(error.find("line 1") != std::string::npos);
  CHECK_FALSE(parse_anchors("test. 3600 IN A 192.0.2.1\n", anchors, error));
  CHECK(error == "no DS or DNSKEY record");
  CHECK_FALSE(read_anchors("/nonexistent/root.key", anchors, error));
  CHECK(error.find("cannot be read") != std::string::npos);
  CHECK(anchors.empty());
}

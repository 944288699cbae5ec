#pragma once
/// The Vapi webhook bodies of shared/vapi/examples.

#include <string>
#include <vector>

namespace switchboard::test {

struct example {
    std::string name;  ///< file name, e.g. "02-status-update-queued.json"
    std::string body;  ///< the file's bytes
};

/// Every webhook body (NN-*.json, not the *.response.json replies), sorted by name.
std::vector<example> webhook_examples();

/// One example or reply by file name.
std::string example_file(const std::string& name);

std::string read_file(const std::string& path);

}  // namespace switchboard::test

#include "support/examples.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace switchboard::test {

std::string read_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) ADD_FAILURE() << "cannot read " << path;
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

std::vector<example> webhook_examples() {
    std::vector<example> out;
    for (const auto& entry : std::filesystem::directory_iterator(SWITCHBOARD_EXAMPLES_DIR)) {
        const std::string name = entry.path().filename().string();
        if (!name.ends_with(".json") || name.ends_with(".response.json")) continue;
        out.push_back({name, read_file(entry.path().string())});
    }
    std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.name < b.name; });
    return out;
}

std::string example_file(const std::string& name) {
    return read_file(std::string(SWITCHBOARD_EXAMPLES_DIR) + "/" + name);
}

}  // namespace switchboard::test

#include "report/flame.h"

#include <algorithm>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "report/report.h"
#include "util/hex.h"

namespace allocprof {
namespace {

constexpr char kNoStack[] = "[no-stack]";      // stack id 0, or an empty stack: nothing was captured
constexpr char kLostStack[] = "[lost-stack]";  // an id the trace never defined (damaged trace)

FlameSite SiteOf(const ReportFrame& f) {
  FlameSite s;
  s.function = f.function;
  s.file = f.file;
  s.module = f.module;
  s.line = f.line;
  s.inlined = f.inlined;
  s.name = !f.function.empty() ? f.function : ModuleOffset(f.module, f.offset);
  return s;
}

class Builder {
 public:
  Builder(FlameTree* tree, const FlameResolver& resolve) : tree_(tree), resolve_(resolve) {}

  // Site ids of one return address, outermost first (the real function, then what was inlined).
  const std::vector<uint32_t>& SitesOf(uint64_t address) {
    auto [it, inserted] = by_address_.try_emplace(address);
    if (!inserted) return it->second;
    std::vector<ReportFrame> frames = resolve_(address);
    for (auto f = frames.rbegin(); f != frames.rend(); ++f) it->second.push_back(Intern(SiteOf(*f)));
    return it->second;
  }

  uint32_t Pseudo(const char* name) {
    FlameSite s;
    s.name = name;
    return Intern(s);
  }

  // The node for `site` under `parent` (-1: top level), created when new.
  uint32_t Child(int32_t parent, uint32_t site) {
    uint32_t name = name_of_site_[site];
    auto [it, inserted] = children_.try_emplace(std::make_pair(parent, name), 0);
    if (inserted) {
      it->second = static_cast<uint32_t>(tree_->parent.size());
      tree_->parent.push_back(parent);
      tree_->site.push_back(site);
    }
    return it->second;
  }

 private:
  uint32_t Intern(const FlameSite& s) {
    std::string key = absl::StrCat(s.name, "\x1f", s.file, "\x1f", s.line, "\x1f", s.module, "\x1f", s.inlined);
    auto [it, inserted] = sites_.try_emplace(key, static_cast<uint32_t>(tree_->sites.size()));
    if (inserted) {
      tree_->sites.push_back(s);
      auto [n, fresh] = names_.try_emplace(s.name, static_cast<uint32_t>(names_.size()));
      name_of_site_.push_back(n->second);
    }
    return it->second;
  }

  FlameTree* tree_;
  const FlameResolver& resolve_;
  absl::flat_hash_map<uint64_t, std::vector<uint32_t>> by_address_;
  absl::flat_hash_map<std::string, uint32_t> sites_, names_;
  std::vector<uint32_t> name_of_site_;
  absl::flat_hash_map<std::pair<int32_t, uint32_t>, uint32_t> children_;  // (parent, name) -> node
};

}  // namespace

FlameTree BuildFlameTree(const ProcessCatalog& catalog,
                         const std::vector<std::pair<uint32_t, const StackStats*>>& stacks,
                         const std::vector<StackWindowCell>& cells, size_t windows, const FlameResolver& resolve) {
  FlameTree tree;
  tree.present = true;
  tree.windows = windows;
  // Heaviest first: a node keeps the call site of the first stack that reaches it.
  std::vector<std::pair<uint32_t, const StackStats*>> order;
  for (const auto& s : stacks) {
    if (s.second->calls || s.second->bytes || s.second->peak_bytes || s.second->live_bytes) order.push_back(s);
  }
  std::sort(order.begin(), order.end(), [](const auto& a, const auto& b) {
    if (a.second->bytes != b.second->bytes) return a.second->bytes > b.second->bytes;
    if (a.second->calls != b.second->calls) return a.second->calls > b.second->calls;
    return a.first < b.first;
  });
  Builder b(&tree, resolve);
  absl::flat_hash_map<uint32_t, uint32_t> leaf_of_stack;
  std::vector<uint32_t> path;
  for (const auto& [id, stats] : order) {
    path.clear();
    auto it = catalog.stacks.find(id);
    if (id == 0 || (it != catalog.stacks.end() && it->second.empty())) {
      path.push_back(b.Pseudo(kNoStack));
    } else if (it == catalog.stacks.end()) {
      path.push_back(b.Pseudo(kLostStack));
    } else {
      for (auto address = it->second.rbegin(); address != it->second.rend(); ++address) {
        const std::vector<uint32_t>& sites = b.SitesOf(*address);
        path.insert(path.end(), sites.begin(), sites.end());
      }
      if (path.empty()) path.push_back(b.Pseudo(kNoStack));
    }
    int32_t node = -1;
    for (uint32_t site : path) node = static_cast<int32_t>(b.Child(node, site));
    size_t n = tree.parent.size();
    tree.calls.resize(n);
    tree.bytes.resize(n);
    tree.peak_bytes.resize(n);
    tree.leaked_bytes.resize(n);
    tree.calls[node] += stats->calls;
    tree.bytes[node] += stats->bytes;
    tree.peak_bytes[node] += stats->peak_bytes;
    tree.leaked_bytes[node] += stats->live_bytes;
    leaf_of_stack[id] = static_cast<uint32_t>(node);
    ++tree.stacks;
  }
  // Cells by (node, window): several stacks can end at one node.
  absl::flat_hash_map<std::pair<uint32_t, uint32_t>, size_t> at;
  for (const StackWindowCell& c : cells) {
    auto leaf = leaf_of_stack.find(c.stack_id);
    if (leaf == leaf_of_stack.end()) continue;
    auto [slot, inserted] = at.try_emplace(std::make_pair(leaf->second, c.window), tree.cells.size());
    if (inserted) tree.cells.push_back(FlameTree::Cell{leaf->second, c.window, 0, 0});
    tree.cells[slot->second].calls += c.calls;
    tree.cells[slot->second].bytes += c.bytes;
  }
  std::sort(tree.cells.begin(), tree.cells.end(), [](const FlameTree::Cell& x, const FlameTree::Cell& y) {
    return x.node != y.node ? x.node < y.node : x.window < y.window;
  });
  return tree;
}

void WriteFlameJson(JsonWriter& j, const FlameTree& t, bool sampled) {
  j.Key("stacks").Uint(t.stacks);
  j.Key("windows").Uint(t.windows);
  j.Key("sites").BeginObject();
  j.Key("name").BeginArray();
  for (const auto& s : t.sites) j.String(s.name);
  j.EndArray();
  j.Key("file").BeginArray();
  for (const auto& s : t.sites) j.String(s.file);
  j.EndArray();
  j.Key("line").BeginArray();
  for (const auto& s : t.sites) j.Uint(static_cast<uint64_t>(std::max(0, s.line)));
  j.EndArray();
  j.Key("module").BeginArray();
  for (const auto& s : t.sites) j.String(s.module);
  j.EndArray();
  j.Key("inlined").BeginArray();
  for (const auto& s : t.sites) j.Uint(s.inlined ? 1 : 0);
  j.EndArray();
  j.EndObject();
  j.Key("nodes").BeginObject();
  j.Key("parent").BeginArray();
  for (int32_t p : t.parent) j.Int(p);
  j.EndArray();
  j.Key("site").BeginArray();
  for (uint32_t s : t.site) j.Uint(s);
  j.EndArray();
  auto column = [&](const char* key, const std::vector<uint64_t>& v) {
    j.Key(key).BeginArray();
    for (uint64_t x : v) j.Uint(x);
    j.EndArray();
  };
  column("calls", t.calls);
  column("bytes", t.bytes);
  if (sampled) {
    j.Key("peak_bytes").Null();
  } else {
    column("peak_bytes", t.peak_bytes);
  }
  column("leaked_bytes", t.leaked_bytes);
  j.EndObject();
  j.Key("by_window").BeginObject();
  j.Key("node").BeginArray();
  for (const auto& c : t.cells) j.Uint(c.node);
  j.EndArray();
  j.Key("window").BeginArray();
  for (const auto& c : t.cells) j.Uint(c.window);
  j.EndArray();
  j.Key("calls").BeginArray();
  for (const auto& c : t.cells) j.Uint(c.calls);
  j.EndArray();
  j.Key("bytes").BeginArray();
  for (const auto& c : t.cells) j.Uint(c.bytes);
  j.EndArray();
  j.EndObject();
}

}  // namespace allocprof

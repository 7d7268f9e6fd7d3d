#include "unwind/cfi_rules.h"

#include <dlfcn.h>
#include <string.h>

namespace allocprof::shim {
namespace {

// DWARF register numbers on x86-64.
constexpr uint64_t kRegRbp = 6;
constexpr uint64_t kRegRsp = 7;
constexpr uint64_t kRegReturnAddress = 16;

// Pointer encodings (DW_EH_PE_*).
constexpr uint8_t kPeOmit = 0xff;
constexpr uint8_t kPeIndirect = 0x80;
constexpr uint8_t kPePcRel = 0x10;
constexpr uint8_t kPeDataRel = 0x30;
constexpr uint8_t kPeDataRelSdata4 = 0x3b;

// A bounded little-endian reader; any read past the end marks it bad and returns zeros.
class Reader {
 public:
  Reader(const uint8_t* p, const uint8_t* end) : p_(p), end_(end) {}
  bool ok() const { return ok_; }
  bool done() const { return p_ >= end_; }
  const uint8_t* pos() const { return p_; }

  template <typename T>
  T Fixed() {
    T v{};
    if (!Need(sizeof(T))) return v;
    memcpy(&v, p_, sizeof(T));
    p_ += sizeof(T);
    return v;
  }
  uint8_t Byte() { return Fixed<uint8_t>(); }
  uint64_t Uleb() {
    uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      uint8_t b = Byte();
      v |= static_cast<uint64_t>(b & 0x7f) << shift;
      if (!(b & 0x80)) return v;
    }
    ok_ = false;
    return 0;
  }
  int64_t Sleb() {
    uint64_t v = 0;
    int shift = 0;
    uint8_t b;
    do {
      b = Byte();
      v |= static_cast<uint64_t>(b & 0x7f) << shift;
      shift += 7;
    } while ((b & 0x80) && shift < 64 && ok_);
    if (shift < 64 && (b & 0x40)) v |= ~0ull << shift;
    return static_cast<int64_t>(v);
  }
  void Skip(uint64_t n) {
    if (Need(n)) p_ += n;
  }
  // An encoded pointer; `data_base` serves DW_EH_PE_datarel.
  uint64_t Encoded(uint8_t enc, uintptr_t data_base = 0) {
    if (enc == kPeOmit) return 0;
    auto field = reinterpret_cast<uintptr_t>(p_);
    uint64_t v = 0;
    switch (enc & 0x0f) {
      case 0x00:
        v = Fixed<uint64_t>();
        break;
      case 0x01:
        v = Uleb();
        break;
      case 0x02:
        v = Fixed<uint16_t>();
        break;
      case 0x03:
        v = Fixed<uint32_t>();
        break;
      case 0x04:
        v = Fixed<uint64_t>();
        break;
      case 0x09:
        v = static_cast<uint64_t>(Sleb());
        break;
      case 0x0a:
        v = static_cast<uint64_t>(static_cast<int64_t>(Fixed<int16_t>()));
        break;
      case 0x0b:
        v = static_cast<uint64_t>(static_cast<int64_t>(Fixed<int32_t>()));
        break;
      case 0x0c:
        v = Fixed<uint64_t>();
        break;
      default:
        ok_ = false;
        return 0;
    }
    switch (enc & 0x70) {
      case 0x00:
        break;
      case kPePcRel:
        v += field;
        break;
      case kPeDataRel:
        v += data_base;
        break;
      default:
        ok_ = false;
        return 0;  // textrel, funcrel, aligned: not used on x86-64 Linux
    }
    if (enc & kPeIndirect) v = *reinterpret_cast<const uint64_t*>(v);
    return v;
  }

 private:
  bool Need(uint64_t n) {
    if (!ok_ || static_cast<uint64_t>(end_ - p_) < n) {
      ok_ = false;
      p_ = end_;
      return false;
    }
    return true;
  }
  const uint8_t* p_;
  const uint8_t* end_;
  bool ok_ = true;
};

// The part of the register state that a frame rule needs.
struct State {
  FrameRule::Cfa cfa = FrameRule::kUnsupported;
  int64_t cfa_offset = 0;
  uint64_t cfa_register = 0;
  FrameRule::Rbp rbp = FrameRule::kSame;
  int64_t rbp_offset = 0;
  bool rbp_unsupported = false;
  enum { kRaAt, kRaUndefined, kRaOther } ra = kRaOther;
  int64_t ra_offset = 0;
};

struct Cie {
  uint64_t code_align = 1;
  int64_t data_align = 1;
  uint8_t fde_encoding = 0;
  bool has_augmentation_data = false;
  const uint8_t* instructions = nullptr;
  const uint8_t* end = nullptr;
};

// Everything an entry (CIE or FDE) spans: [*body, *end) after its length field.
bool EntryBounds(const uint8_t* entry, const uint8_t** body, const uint8_t** end) {
  uint32_t length;
  memcpy(&length, entry, sizeof(length));
  if (length == 0 || length == 0xffffffffu) return false;  // terminator, or 64-bit DWARF (unused)
  *body = entry + 4;
  *end = *body + length;
  return true;
}

bool ParseCie(const uint8_t* entry, Cie* cie) {
  const uint8_t* body;
  const uint8_t* end;
  if (!EntryBounds(entry, &body, &end)) return false;
  Reader r(body, end);
  if (r.Fixed<uint32_t>() != 0) return false;  // not a CIE
  uint8_t version = r.Byte();
  if (version != 1 && version != 3 && version != 4) return false;
  const char* augmentation = reinterpret_cast<const char*>(r.pos());
  size_t aug_len = strnlen(augmentation, static_cast<size_t>(end - r.pos()));
  r.Skip(aug_len + 1);
  if (aug_len > 0 && augmentation[0] != 'z') return false;  // e.g. the ancient "eh"
  if (version == 4) {
    if (r.Byte() != 8 || r.Byte() != 0) return false;  // address and segment size
  }
  cie->code_align = r.Uleb();
  cie->data_align = r.Sleb();
  uint64_t ra_register = version == 1 ? r.Byte() : r.Uleb();
  if (ra_register != kRegReturnAddress) return false;
  if (aug_len > 0) {
    uint64_t data_len = r.Uleb();
    const uint8_t* data_end = r.pos() + data_len;
    for (size_t i = 1; i < aug_len && r.ok(); ++i) {
      switch (augmentation[i]) {
        case 'R':
          cie->fde_encoding = r.Byte();
          break;
        case 'L':
          r.Byte();
          break;
        case 'P':
          r.Encoded(r.Byte());
          break;
        case 'S':
          return false;  // a signal frame: its rules restore every register
        default:
          i = aug_len;
          break;  // unknown: the data length still lets us skip it
      }
    }
    if (!r.ok() || data_end > end) return false;
    cie->has_augmentation_data = true;
    cie->instructions = data_end;
  } else {
    cie->instructions = r.pos();
  }
  cie->end = end;
  return r.ok();
}

void SetRegisterRule(State* s, uint64_t reg, bool at_cfa, int64_t offset) {
  if (reg == kRegRbp) {
    s->rbp = at_cfa ? FrameRule::kAtCfaPlus : FrameRule::kSame;
    s->rbp_offset = offset;
    s->rbp_unsupported = false;
  } else if (reg == kRegReturnAddress) {
    s->ra = at_cfa ? State::kRaAt : State::kRaOther;
    s->ra_offset = offset;
  }
}

// A register whose value comes from somewhere this walker does not follow.
void SetOtherRule(State* s, uint64_t reg) {
  if (reg == kRegRbp)
    s->rbp_unsupported = true;
  else if (reg == kRegReturnAddress)
    s->ra = State::kRaOther;
}

// The one CFA expression compilers emit: DW_OP_breg6 (rbp) N; DW_OP_deref, in functions that
// realign the stack. Their rbp is then described as DW_OP_breg6 N (saved at rbp + N).
bool RbpBasedExpression(const uint8_t* block, uint64_t len, bool deref, int64_t* offset) {
  Reader r(block, block + len);
  if (r.Byte() != 0x76) return false;  // DW_OP_breg6
  *offset = r.Sleb();
  if (deref && r.Byte() != 0x06) return false;  // DW_OP_deref
  return r.ok() && r.done();
}

// DW_CFA_restore: the register's rule goes back to the one the CIE set.
void Restore(State* s, const State& initial, uint64_t reg) {
  if (reg == kRegRbp) {
    s->rbp = initial.rbp;
    s->rbp_offset = initial.rbp_offset;
    s->rbp_unsupported = initial.rbp_unsupported;
  } else if (reg == kRegReturnAddress) {
    s->ra = initial.ra;
    s->ra_offset = initial.ra_offset;
  }
}

constexpr int kMaxRememberedStates = 8;

// Runs call frame instructions until the location passes `pc`. `initial` is the state after the
// CIE's instructions (DW_CFA_restore returns to it); null while running them.
bool Execute(Reader r, const Cie& cie, uintptr_t pc, uintptr_t loc, State* s, const State* initial) {
  State remembered[kMaxRememberedStates];
  int depth = 0;
  while (!r.done() && r.ok()) {
    uint8_t op = r.Byte();
    uint64_t reg;
    switch (op & 0xc0) {
      case 0x40:  // DW_CFA_advance_loc
        loc += (op & 0x3f) * cie.code_align;
        if (loc > pc) return true;
        continue;
      case 0x80:  // DW_CFA_offset
        SetRegisterRule(s, op & 0x3f, true, static_cast<int64_t>(r.Uleb()) * cie.data_align);
        continue;
      case 0xc0:  // DW_CFA_restore
        if (!initial) return false;
        Restore(s, *initial, op & 0x3f);
        continue;
    }
    switch (op) {
      case 0x00:
        break;    // DW_CFA_nop
      case 0x01:  // DW_CFA_set_loc
        loc = r.Encoded(cie.fde_encoding);
        if (loc > pc) return true;
        break;
      case 0x02:
        loc += r.Byte() * cie.code_align;
        if (loc > pc) return true;
        break;
      case 0x03:
        loc += r.Fixed<uint16_t>() * cie.code_align;
        if (loc > pc) return true;
        break;
      case 0x04:
        loc += r.Fixed<uint32_t>() * cie.code_align;
        if (loc > pc) return true;
        break;
      case 0x05:  // DW_CFA_offset_extended
        reg = r.Uleb();
        SetRegisterRule(s, reg, true, static_cast<int64_t>(r.Uleb()) * cie.data_align);
        break;
      case 0x06:  // DW_CFA_restore_extended
        reg = r.Uleb();
        if (!initial) return false;
        Restore(s, *initial, reg);
        break;
      case 0x07:  // DW_CFA_undefined
        reg = r.Uleb();
        if (reg == kRegReturnAddress)
          s->ra = State::kRaUndefined;
        else
          SetOtherRule(s, reg);
        break;
      case 0x08:  // DW_CFA_same_value
        reg = r.Uleb();
        if (reg == kRegRbp)
          SetRegisterRule(s, reg, false, 0);
        else
          SetOtherRule(s, reg);
        break;
      case 0x09:  // DW_CFA_register
        SetOtherRule(s, r.Uleb());
        r.Uleb();
        break;
      case 0x0a:  // DW_CFA_remember_state
        if (depth == kMaxRememberedStates) return false;
        remembered[depth++] = *s;
        break;
      case 0x0b:  // DW_CFA_restore_state
        if (depth == 0) return false;
        *s = remembered[--depth];
        break;
      case 0x0c:  // DW_CFA_def_cfa
        s->cfa_register = r.Uleb();
        s->cfa_offset = static_cast<int64_t>(r.Uleb());
        s->cfa = FrameRule::kRspPlus;  // refined from cfa_register at the end
        break;
      case 0x0d:  // DW_CFA_def_cfa_register
        s->cfa_register = r.Uleb();
        if (s->cfa == FrameRule::kLoadRbpPlus)
          s->cfa = FrameRule::kUnsupported;
        else
          s->cfa = FrameRule::kRspPlus;
        break;
      case 0x0e:  // DW_CFA_def_cfa_offset
        s->cfa_offset = static_cast<int64_t>(r.Uleb());
        if (s->cfa == FrameRule::kLoadRbpPlus) s->cfa = FrameRule::kUnsupported;
        break;
      case 0x0f: {  // DW_CFA_def_cfa_expression
        uint64_t len = r.Uleb();
        const uint8_t* block = r.pos();
        r.Skip(len);
        int64_t offset;
        if (r.ok() && RbpBasedExpression(block, len, true, &offset)) {
          s->cfa = FrameRule::kLoadRbpPlus;
          s->cfa_offset = offset;
          s->cfa_register = kRegRbp;
        } else {
          s->cfa = FrameRule::kUnsupported;
          s->cfa_register = ~0ull;
        }
        break;
      }
      case 0x10: {  // DW_CFA_expression
        reg = r.Uleb();
        uint64_t len = r.Uleb();
        const uint8_t* block = r.pos();
        r.Skip(len);
        int64_t offset;
        if (reg == kRegRbp && r.ok() && RbpBasedExpression(block, len, false, &offset)) {
          s->rbp = FrameRule::kAtRbpPlus;
          s->rbp_offset = offset;
          s->rbp_unsupported = false;
        } else {
          SetOtherRule(s, reg);
        }
        break;
      }
      case 0x11:  // DW_CFA_offset_extended_sf
        reg = r.Uleb();
        SetRegisterRule(s, reg, true, r.Sleb() * cie.data_align);
        break;
      case 0x12:  // DW_CFA_def_cfa_sf
        s->cfa_register = r.Uleb();
        s->cfa_offset = r.Sleb() * cie.data_align;
        s->cfa = FrameRule::kRspPlus;
        break;
      case 0x13:  // DW_CFA_def_cfa_offset_sf
        s->cfa_offset = r.Sleb() * cie.data_align;
        if (s->cfa == FrameRule::kLoadRbpPlus) s->cfa = FrameRule::kUnsupported;
        break;
      case 0x14:  // DW_CFA_val_offset
      case 0x15:  // DW_CFA_val_offset_sf
        SetOtherRule(s, r.Uleb());
        if (op == 0x14)
          r.Uleb();
        else
          r.Sleb();
        break;
      case 0x16:  // DW_CFA_val_expression
        SetOtherRule(s, r.Uleb());
        r.Skip(r.Uleb());
        break;
      case 0x2e:  // DW_CFA_GNU_args_size
        r.Uleb();
        break;
      case 0x2f:  // DW_CFA_GNU_negative_offset_extended
        reg = r.Uleb();
        SetRegisterRule(s, reg, true, -static_cast<int64_t>(r.Uleb()) * cie.data_align);
        break;
      default:
        return false;
    }
  }
  return r.ok();
}

// The FDE covering `pc`, from the object's binary-search table (.eh_frame_hdr).
const uint8_t* FindFde(const uint8_t* hdr, uintptr_t pc) {
  if (hdr[0] != 1) return nullptr;
  uint8_t eh_frame_ptr_enc = hdr[1];
  uint8_t count_enc = hdr[2];
  uint8_t table_enc = hdr[3];
  if (table_enc != kPeDataRelSdata4) return nullptr;  // what every linker writes
  // The header is small; its table follows. Bounds come from the count.
  Reader r(hdr + 4, hdr + 4 + 32);
  r.Encoded(eh_frame_ptr_enc);
  uint64_t count = r.Encoded(count_enc);
  if (!r.ok() || count == 0 || count > (1u << 28)) return nullptr;
  const auto* table = reinterpret_cast<const int32_t*>(r.pos());
  auto base = reinterpret_cast<intptr_t>(hdr);
  // Last entry whose start is <= pc.
  uint64_t lo = 0, hi = count;
  while (hi - lo > 1) {
    uint64_t mid = lo + (hi - lo) / 2;
    if (static_cast<uintptr_t>(base + table[2 * mid]) <= pc)
      lo = mid;
    else
      hi = mid;
  }
  if (static_cast<uintptr_t>(base + table[2 * lo]) > pc) return nullptr;
  return reinterpret_cast<const uint8_t*>(base + table[2 * lo + 1]);
}

}  // namespace

FrameRule FindFrameRule(uintptr_t pc) {
  FrameRule unsupported{0, 0, FrameRule::kUnsupported, FrameRule::kSame};
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 35))
  struct dl_find_object found;
  if (_dl_find_object(reinterpret_cast<void*>(pc), &found) != 0 || !found.dlfo_eh_frame) return unsupported;
  const uint8_t* fde = FindFde(static_cast<const uint8_t*>(found.dlfo_eh_frame), pc);
  if (!fde) return unsupported;
  const uint8_t* body;
  const uint8_t* end;
  if (!EntryBounds(fde, &body, &end)) return unsupported;
  Reader r(body, end);
  uint32_t cie_distance = r.Fixed<uint32_t>();
  if (cie_distance == 0) return unsupported;  // a CIE, not an FDE
  Cie cie;
  if (!ParseCie(body - cie_distance, &cie)) return unsupported;
  uint64_t start = r.Encoded(cie.fde_encoding);
  uint64_t range = r.Encoded(cie.fde_encoding & 0x0f);
  if (!r.ok() || pc < start || pc - start >= range) return unsupported;
  if (cie.has_augmentation_data) r.Skip(r.Uleb());
  if (!r.ok()) return unsupported;

  State s;
  if (!Execute(Reader(cie.instructions, cie.end), cie, ~uintptr_t{0}, 0, &s, nullptr)) return unsupported;
  State initial = s;
  if (!Execute(r, cie, pc, start, &s, &initial)) return unsupported;

  if (s.ra == State::kRaUndefined) return FrameRule{0, 0, FrameRule::kOutermost, FrameRule::kSame};
  if (s.ra != State::kRaAt || s.ra_offset != -8 || s.rbp_unsupported) return unsupported;
  FrameRule rule{0, 0, FrameRule::kUnsupported, s.rbp};
  if (s.cfa == FrameRule::kRspPlus) {
    if (s.cfa_register == kRegRsp)
      rule.cfa = FrameRule::kRspPlus;
    else if (s.cfa_register == kRegRbp)
      rule.cfa = FrameRule::kRbpPlus;
    else
      return unsupported;
  } else if (s.cfa == FrameRule::kLoadRbpPlus) {
    rule.cfa = FrameRule::kLoadRbpPlus;
  } else {
    return unsupported;
  }
  if (s.cfa_offset < INT32_MIN || s.cfa_offset > INT32_MAX || s.rbp_offset < INT16_MIN || s.rbp_offset > INT16_MAX) {
    return unsupported;
  }
  rule.cfa_offset = static_cast<int32_t>(s.cfa_offset);
  rule.rbp_offset = static_cast<int16_t>(s.rbp_offset);
  return rule;
#else
  (void)pc;
  return unsupported;
#endif
}

}  // namespace allocprof::shim

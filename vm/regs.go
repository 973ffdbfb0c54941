package vm

import (
	"encoding/binary"
	"fmt"

	"github.com/nftgo/nftgo/ruleset"
)

// The register file is 20 × 32-bit slots (NFT_REG32_NUM); slots 0–3 overlay
// the verdict in the kernel, so data lives in slots 4–19. The machine keeps
// the verdict in its own fields and the data as raw bytes, host (little-endian)
// order for host-order keys, network order for packet data, exactly as the
// kernel's struct nft_regs holds them.
//
// Ref: include/net/netfilter/nf_tables.h — struct nft_regs, NFT_REG32_NUM.
const (
	regBytes  = 80
	regFirst  = 16 // byte offset of slot 4 (NFT_REG_1 / NFT_REG32_00)
	maxRegLen = 64 // NFT_REG32_COUNT * 4: the largest value a load may span
)

// regOffset maps a netlink register number to the byte offset of its first
// slot: 1..4 are the 16-byte registers (slot n×4), 8..23 the 32-bit ones
// (slot n−4).
//
// Ref: net/netfilter/nf_tables_api.c — nft_parse_register.
func regOffset(r ruleset.Register) (int, error) {
	switch {
	case r <= 4:
		return int(r) * 16, nil
	case r >= 8 && r <= 23:
		return (int(r) - 4) * 4, nil
	}
	return 0, fmt.Errorf("register %d out of range: %w", r, errRange)
}

// loadReg validates a source register for a len-byte load.
//
// Ref: net/netfilter/nf_tables_api.c — nft_validate_register_load.
func loadReg(r ruleset.Register, n int) (uint8, error) {
	off, err := regOffset(r)
	if err != nil {
		return 0, err
	}
	if off < regFirst {
		return 0, fmt.Errorf("load from register %d: %w", r, errInval)
	}
	if n <= 0 || off+n > regBytes {
		return 0, fmt.Errorf("load of %d bytes from register %d: %w", n, r, errRange)
	}
	return uint8(off), nil
}

// storeReg validates a destination register for an n-byte value store; the
// verdict register only takes verdicts.
//
// Ref: net/netfilter/nf_tables_api.c — nft_validate_register_store.
func storeReg(r ruleset.Register, n int) (uint8, error) {
	off, err := regOffset(r)
	if err != nil {
		return 0, err
	}
	if off < regFirst {
		return 0, fmt.Errorf("store of data into the verdict register: %w", errInval)
	}
	if n <= 0 || off+n > regBytes {
		return 0, fmt.Errorf("store of %d bytes into register %d: %w", n, r, errRange)
	}
	return uint8(off), nil
}

// store copies b into the registers at off and zeroes the rest of the last
// 32-bit word, as every kernel store does (nft_reg_store8/16, nft_data_copy,
// the payload loads). Concatenations depend on it. It writes whole words:
// byte stores followed by the word load of the next cmp would stall store
// forwarding (measured: ~2.5x slower per rule).
func (m *machine) store(off uint8, b []byte) {
	o := int(off)
	for len(b) >= 4 {
		binary.LittleEndian.PutUint32(m.regs[o:], binary.LittleEndian.Uint32(b))
		b = b[4:]
		o += 4
	}
	var w uint32
	switch len(b) {
	case 0:
		return
	case 1:
		w = uint32(b[0])
	case 2:
		w = uint32(b[0]) | uint32(b[1])<<8
	case 3:
		w = uint32(b[0]) | uint32(b[1])<<8 | uint32(b[2])<<16
	}
	binary.LittleEndian.PutUint32(m.regs[o:], w)
}

func (m *machine) store8(off uint8, v uint8) {
	binary.LittleEndian.PutUint32(m.regs[off:], uint32(v))
}

func (m *machine) store16(off uint8, v uint16) {
	binary.LittleEndian.PutUint32(m.regs[off:], uint32(v))
}

// storeBE16 stores a network-order 16-bit value (zero-padded word).
func (m *machine) storeBE16(off uint8, v uint16) {
	m.regs[off] = byte(v >> 8)
	m.regs[off+1] = byte(v)
	m.regs[off+2] = 0
	m.regs[off+3] = 0
}

func (m *machine) store32(off uint8, v uint32) {
	binary.LittleEndian.PutUint32(m.regs[off:], v)
}

func (m *machine) store64(off uint8, v uint64) {
	binary.LittleEndian.PutUint64(m.regs[off:], v)
}

func (m *machine) load32(off uint8) uint32 {
	return binary.LittleEndian.Uint32(m.regs[off:])
}

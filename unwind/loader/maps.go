package loader

import (
	"encoding/binary"
	"math/bits"
)

// The layouts of bpf/include/unwind.h.
const (
	fileNone    = 0xffffffff // UNWIND_FILE_NONE: no rows, frame pointers
	filePending = 0xfffffffe // UNWIND_FILE_PENDING: rows not built yet

	mappingProcess = 1 // UNWIND_MAPPING_PROCESS

	reqNew     = 1 // UNWIND_REQ_NEW
	reqUnknown = 2 // UNWIND_REQ_UNKNOWN
	reqExec    = 3 // UNWIND_REQ_EXEC
	reqExit    = 4 // UNWIND_REQ_EXIT

	keySize   = 16 // struct unwind_key
	valueSize = 32 // struct unwind_mapping
	fileSize  = 8  // struct unwind_file
)

// lpmKey is struct unwind_key: prefix length, then pid and address big
// endian, so that a prefix of the bits is a prefix of (pid, address).
type lpmKey [keySize]byte

func makeKey(pid uint32, addr uint64, prefix uint32) lpmKey {
	var k lpmKey
	binary.NativeEndian.PutUint32(k[0:], prefix)
	binary.BigEndian.PutUint32(k[4:], pid)
	binary.BigEndian.PutUint64(k[8:], addr)
	return k
}

// lpmValue is struct unwind_mapping.
type lpmValue [valueSize]byte

func makeValue(start, end, bias uint64, file, flags uint32) lpmValue {
	var v lpmValue
	binary.NativeEndian.PutUint64(v[0:], start)
	binary.NativeEndian.PutUint64(v[8:], end)
	binary.NativeEndian.PutUint64(v[16:], bias)
	binary.NativeEndian.PutUint32(v[24:], file)
	binary.NativeEndian.PutUint32(v[28:], flags)
	return v
}

// processKey is the (pid, /32) entry every address of a known process falls
// back to.
func processKey(pid uint32) lpmKey { return makeKey(pid, 0, 32) }

// blocks splits [start, end) into the aligned power-of-two blocks an LPM trie
// holds, as keys of pid: at most two per bit of the range's size.
func blocks(pid uint32, start, end uint64) []lpmKey {
	var out []lpmKey
	for start < end {
		// The largest block aligned at start that fits before end.
		size := uint(63)
		if start != 0 {
			size = uint(bits.TrailingZeros64(start))
		}
		for size > 0 && (uint64(1)<<size > end-start || start+uint64(1)<<size < start) {
			size--
		}
		out = append(out, makeKey(pid, start, 32+64-uint32(size)))
		start += uint64(1) << size
	}
	return out
}

// fileValue is struct unwind_file.
func fileValue(first, count uint32) [fileSize]byte {
	var v [fileSize]byte
	binary.NativeEndian.PutUint32(v[0:], first)
	binary.NativeEndian.PutUint32(v[4:], count)
	return v
}

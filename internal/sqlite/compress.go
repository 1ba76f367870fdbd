package sqlite

import (
	_ "embed"
	"fmt"
	"runtime"

	"github.com/klauspost/compress/zstd"
)

// Tickets and execution records are stored compressed: zstd with a preset dictionary of what
// such records look like (their keys, ARNs, event types), so that even a small record shrinks
// four- to eight-fold (a ticket with its execution: well under 1 KiB instead of 6), and the
// database stays small at a million tickets. A write costs about 10 µs more, a read 4 µs. The
// first byte says how a value is stored; values written before compression (JSON text, which
// starts with '{' or '[') are read as they are.

// dictV1 must never change: values written with it name it by their first byte. A better
// dictionary is a new format byte.
//
//go:embed dict-v1.txt
var dictV1 []byte

const (
	formatZstdV1 = 0x02
	dictID       = 1
)

var (
	encoder = must(zstd.NewWriter(nil, zstd.WithEncoderDictRaw(dictID, dictV1), zstd.WithEncoderLevel(zstd.SpeedFastest), zstd.WithLowerEncoderMem(true),
		zstd.WithEncoderConcurrency(runtime.GOMAXPROCS(0)), zstd.WithZeroFrames(true)))
	decoder = must(zstd.NewReader(nil, zstd.WithDecoderDictRaw(dictID, dictV1), zstd.WithDecoderConcurrency(runtime.GOMAXPROCS(0))))
)

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// pack compresses a JSON value for storage.
func pack(v []byte) []byte {
	return encoder.EncodeAll(v, []byte{formatZstdV1})
}

// unpack returns the JSON of a stored value, compressed or not.
func unpack(v []byte) ([]byte, error) {
	if len(v) == 0 || v[0] != formatZstdV1 {
		return v, nil // stored as JSON text
	}
	out, err := decoder.DecodeAll(v[1:], nil)
	if err != nil {
		return nil, fmt.Errorf("decompress stored value: %w", err)
	}
	return out, nil
}

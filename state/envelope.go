package state

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
)

// Every command Drover writes to Raft is wrapped in a small versioned
// envelope that carries a CRC-32C of what follows it:
//
//	byte 0      envelopeV1 (0xD1)
//	bytes 1..4  CRC-32C (Castagnoli), big-endian, of bytes 5..
//	byte 5      MessageType
//	bytes 6..   the JSON request
//
// Raft's log store (bbolt) checks its pages, not the values in them: a
// changed byte inside an entry used to be applied as it was, or skipped
// as an invalid command on one replica only, which makes the replicas
// disagree without anyone knowing. The checksum makes such damage a loud
// stop of that server instead (FSM.Halted).
//
// Entries written before the envelope existed start with their
// MessageType, a small number, and are still read: a data dir from an
// older version keeps working. Version bytes are chosen above every
// MessageType so that the two can never be confused.
const envelopeV1 byte = 0xD1

// envelopeHeader is the envelope's size before the JSON request.
const envelopeHeader = 6

// castagnoli is CRC-32C, which the CPU computes in hardware (SSE4.2,
// ARMv8): the checksum costs far less than the JSON it covers.
var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// ErrCorrupt marks a Raft log entry that fails its checksum or does not
// decode. It is never a client's error: the server that meets it stops.
var ErrCorrupt = errors.New("state: corrupt raft log entry")

// CorruptEntryError names the log entry a server stopped at, and why.
type CorruptEntryError struct {
	Index  uint64
	Reason string
}

func (e *CorruptEntryError) Error() string {
	return fmt.Sprintf("raft log entry %d is corrupt: %s", e.Index, e.Reason)
}

// Unwrap makes errors.Is(err, ErrCorrupt) hold.
func (e *CorruptEntryError) Unwrap() error { return ErrCorrupt }

// seal wraps an encoded request (type byte already at buf[envelopeHeader-1])
// in place: buf has envelopeHeader bytes reserved at its front.
func seal(buf []byte) []byte {
	buf[0] = envelopeV1
	binary.BigEndian.PutUint32(buf[1:5], crc32.Checksum(buf[5:], castagnoli))
	return buf
}

// openEnvelope returns the message type and JSON body of a log entry,
// checking its checksum. A legacy entry (no envelope) is returned as it
// is.
func openEnvelope(data []byte) (MessageType, []byte, error) {
	if len(data) == 0 {
		return 0, nil, errors.New("empty entry")
	}
	switch v := data[0]; {
	case v == envelopeV1:
		if len(data) < envelopeHeader {
			return 0, nil, fmt.Errorf("envelope of %d bytes is shorter than its %d-byte header", len(data), envelopeHeader)
		}
		want := binary.BigEndian.Uint32(data[1:5])
		if got := crc32.Checksum(data[5:], castagnoli); got != want {
			return 0, nil, fmt.Errorf("checksum mismatch (CRC-32C %08x, the entry says %08x)", got, want)
		}
		return MessageType(data[5]), data[envelopeHeader:], nil
	case v >= 0x80:
		// A newer server may write a newer envelope; this one cannot
		// tell what the entry says, and guessing would diverge.
		return 0, nil, fmt.Errorf("unknown envelope version 0x%02x (written by a newer Drover? upgrade this server)", v)
	default:
		return MessageType(v), data[1:], nil
	}
}

package jobspec

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
)

// Canonical returns the job's canonical JSON encoding. encoding/json sorts
// map keys and the parser fixes the order of lists, so equal jobs encode to
// equal bytes.
func (j *Job) Canonical() ([]byte, error) {
	return json.Marshal(j)
}

// Hash returns a stable content hash of the canonical encoding: "sha256:"
// and 64 hex digits.
func (j *Job) Hash() string {
	b, err := j.Canonical()
	if err != nil {
		// Job holds only JSON-encodable values; Config comes from cty
		// conversion that yields plain JSON types.
		panic("jobspec: job does not encode: " + err.Error())
	}
	sum := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(sum[:])
}

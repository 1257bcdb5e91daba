package diff

import (
	"fmt"
	"strconv"
	"time"
)

func fmtInt(i int) string { return strconv.Itoa(i) }

func fmtBool(b bool) string { return strconv.FormatBool(b) }

// fmtDur prints durations as Go does ("1m30s"), never as nanoseconds.
func fmtDur(d time.Duration) string { return d.String() }

// fmtScalar formats one JSON value of a driver config.
func fmtScalar(v any) string {
	switch x := v.(type) {
	case nil:
		return "null"
	case string:
		return x
	case bool:
		return strconv.FormatBool(x)
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	case float32:
		return strconv.FormatFloat(float64(x), 'f', -1, 32)
	}
	return fmt.Sprint(v)
}

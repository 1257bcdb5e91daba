package jobspec_test

import (
	"strings"
	"testing"
	"time"

	"github.com/droverhq/drover/jobspec"
)

// TestPeriodicNext: the next launch of a periodic block, in its zone,
// including what robfig/cron does across daylight saving transitions.
func TestPeriodicNext(t *testing.T) {
	ny, err := time.LoadLocation("America/New_York")
	if err != nil {
		t.Fatal(err)
	}
	at := func(loc *time.Location, y int, mo time.Month, d, h, mi, s int) time.Time {
		return time.Date(y, mo, d, h, mi, s, 0, loc)
	}
	p := func(zone string, enabled bool, crons ...string) *jobspec.Periodic {
		return &jobspec.Periodic{Crons: crons, TimeZone: zone, Enabled: enabled}
	}
	for _, tc := range []struct {
		name  string
		p     *jobspec.Periodic
		after time.Time
		want  time.Time // zero: never
	}{
		{"daily utc", p("UTC", true, "0 3 * * *"), at(time.UTC, 2026, 1, 1, 3, 0, 0), at(time.UTC, 2026, 1, 2, 3, 0, 0)},
		{"strictly after", p("UTC", true, "0 3 * * *"), at(time.UTC, 2026, 1, 1, 2, 59, 59), at(time.UTC, 2026, 1, 1, 3, 0, 0)},
		{"descriptor", p("UTC", true, "@hourly"), at(time.UTC, 2026, 1, 1, 3, 10, 0), at(time.UTC, 2026, 1, 1, 4, 0, 0)},
		{"seconds field", p("UTC", true, "*/10 * * * * *"), at(time.UTC, 2026, 1, 1, 3, 0, 1), at(time.UTC, 2026, 1, 1, 3, 0, 10)},
		{"sunday as 7", p("UTC", true, "0 0 * * 7"), at(time.UTC, 2026, 1, 1, 0, 0, 0), at(time.UTC, 2026, 1, 4, 0, 0, 0)},
		{"several crons: earliest", p("UTC", true, "0 5 * * *", "30 4 * * *", "0 6 * * *"), at(time.UTC, 2026, 1, 1, 0, 0, 0), at(time.UTC, 2026, 1, 1, 4, 30, 0)},
		{"disabled", p("UTC", false, "* * * * *"), at(time.UTC, 2026, 1, 1, 0, 0, 0), time.Time{}},
		{"nil", nil, at(time.UTC, 2026, 1, 1, 0, 0, 0), time.Time{}},
		{"zone", p("America/New_York", true, "0 3 * * *"), at(time.UTC, 2026, 1, 1, 0, 0, 0), at(ny, 2026, 1, 1, 3, 0, 0)},
		// 2026-03-08 02:00 EST jumps to 03:00 EDT: 02:30 does not exist
		// that day, and robfig skips it to the next day's 02:30.
		{"spring forward skips", p("America/New_York", true, "30 2 * * *"), at(ny, 2026, 3, 7, 3, 0, 0), at(ny, 2026, 3, 9, 2, 30, 0)},
		// The day before and after are ordinary.
		{"before spring forward", p("America/New_York", true, "30 2 * * *"), at(ny, 2026, 3, 6, 3, 0, 0), at(ny, 2026, 3, 7, 2, 30, 0)},
		// 2026-11-01 02:00 EDT falls back to 01:00 EST: 02:30 happens
		// once (EST); 01:30 happens twice, and robfig launches at both
		// occurrences (EDT, then an hour later EST).
		{"fall back 02:30 once", p("America/New_York", true, "30 2 * * *"), at(ny, 2026, 10, 31, 3, 0, 0), at(ny, 2026, 11, 1, 2, 30, 0)},
		{"fall back 01:30 first", p("America/New_York", true, "30 1 * * *"), at(ny, 2026, 10, 31, 3, 0, 0), time.Date(2026, 11, 1, 5, 30, 0, 0, time.UTC)},
		{"fall back 01:30 again", p("America/New_York", true, "30 1 * * *"), time.Date(2026, 11, 1, 5, 30, 0, 0, time.UTC), time.Date(2026, 11, 1, 6, 30, 0, 0, time.UTC)},
		{"fall back then next day", p("America/New_York", true, "30 1 * * *"), time.Date(2026, 11, 1, 6, 30, 0, 0, time.UTC), at(ny, 2026, 11, 2, 1, 30, 0)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.p.Next(tc.after)
			if err != nil {
				t.Fatal(err)
			}
			if !got.Equal(tc.want) {
				t.Errorf("Next(%s) = %s, want %s", tc.after, got, tc.want)
			}
		})
	}
}

// TestParseCronRefuses: what Drover does not run, with why.
func TestParseCronRefuses(t *testing.T) {
	for _, tc := range []struct{ cron, want string }{
		{"", "empty"},
		{"@every 1ms", "@every"},
		{"TZ=UTC 0 3 * * *", "time_zone"},
		{"0 0 3 * * * 2030", "7-field"},
		{"0 3 * *", "expected"},
		{strings.Repeat("1,", 200) + "1 * * * *", "more than"},
	} {
		if _, err := jobspec.ParseCron(tc.cron); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("ParseCron(%.30q) = %v, want an error with %q", tc.cron, err, tc.want)
		}
	}
}

package jobspec

import (
	"errors"
	"fmt"
	"strings"
	"time"
	// The zone database is embedded so that a periodic job's time_zone
	// means the same on every server, whatever the host has installed.
	_ "time/tzdata"

	"github.com/robfig/cron/v3"
)

// Bounds on a periodic block, which comes from a job file: a job names at
// most MaxCrons schedules of at most MaxCronLen bytes each, so that
// computing the next launch is cheap whatever a file says.
const (
	MaxCrons   = 64
	MaxCronLen = 256
)

// cronParser reads Nomad's cron syntax as far as robfig/cron supports it:
// five fields (minute hour day-of-month month day-of-week), an optional
// leading seconds field (six fields), and the descriptors @yearly,
// @annually, @monthly, @weekly, @daily, @midnight and @hourly.
//
// Differences from Nomad's cronexpr: a six-field expression starts with
// seconds here (cronexpr reads a trailing year), seven fields (with a
// year) are refused, and so are "L", "W" and "#" in the day fields.
// "@every" and a "TZ=" prefix, which robfig accepts and cronexpr does not,
// are refused: time_zone sets the zone. The finest schedule is therefore
// once a second.
var cronParser = cron.NewParser(cron.SecondOptional | cron.Minute | cron.Hour |
	cron.Dom | cron.Month | cron.Dow | cron.Descriptor)

// ParseCron parses one cron expression of a periodic block.
func ParseCron(s string) (cron.Schedule, error) {
	if len(s) > MaxCronLen {
		return nil, fmt.Errorf("cron expression is %d bytes, more than %d", len(s), MaxCronLen)
	}
	f := strings.Fields(s)
	switch {
	case len(f) == 0:
		return nil, errors.New("empty cron expression")
	case strings.HasPrefix(f[0], "@every"):
		return nil, errors.New(`"@every" is not a cron expression Nomad accepts; write the schedule as fields`)
	case strings.HasPrefix(f[0], "TZ=") || strings.HasPrefix(f[0], "CRON_TZ="):
		return nil, errors.New(`set the zone with time_zone, not a "TZ=" prefix`)
	case len(f) == 7:
		return nil, errors.New("7-field cron expressions (with a year) are not supported; use 5 fields, or 6 with leading seconds")
	}
	if len(f) >= 5 {
		// cronexpr, like most crons, also calls Sunday 7; robfig only 0.
		f[len(f)-1] = sundaySeven(f[len(f)-1])
	}
	sched, err := cronParser.Parse(strings.Join(f, " "))
	if err != nil {
		return nil, err
	}
	return sched, nil
}

// PeriodicBlock returns the job's periodic block; nil for a job without
// one, and for a nil job.
func (j *Job) PeriodicBlock() *Periodic {
	if j == nil {
		return nil
	}
	return j.Periodic
}

// Location returns the periodic block's time zone (UTC when unset).
func (p *Periodic) Location() (*time.Location, error) {
	if p.TimeZone == "" || p.TimeZone == "UTC" {
		return time.UTC, nil
	}
	loc, err := time.LoadLocation(p.TimeZone)
	if err != nil {
		return nil, fmt.Errorf("time_zone %q: %w", p.TimeZone, err)
	}
	return loc, nil
}

// Next returns the first launch strictly after after: the earliest next
// time of the block's crons, evaluated in its time zone so that daylight
// saving transitions follow the wall clock there. It returns the zero
// time when the block is disabled, nil, or no cron ever fires again.
//
// Around a transition robfig/cron (v3.0.1) does this: a wall time that
// does not exist (02:30 on the spring-forward day in America/New_York) is
// skipped, the next launch being the following day's; a wall time that
// exists twice (01:30 on the fall-back day) launches at both occurrences,
// an hour apart. Nomad's cronexpr differs in the details; a schedule
// that must run once a day should avoid 01:00-03:00 in a DST zone, or use
// UTC.
func (p *Periodic) Next(after time.Time) (time.Time, error) {
	if p == nil || !p.Enabled {
		return time.Time{}, nil
	}
	if len(p.Crons) > MaxCrons {
		return time.Time{}, fmt.Errorf("%d crons, more than %d", len(p.Crons), MaxCrons)
	}
	loc, err := p.Location()
	if err != nil {
		return time.Time{}, err
	}
	var next time.Time
	for _, c := range p.Crons {
		sched, err := ParseCron(c)
		if err != nil {
			return time.Time{}, fmt.Errorf("cron %q: %w", c, err)
		}
		t := sched.Next(after.In(loc))
		if !t.IsZero() && (next.IsZero() || t.Before(next)) {
			next = t
		}
	}
	return next, nil
}

// sundaySeven rewrites a day-of-week field's 7 (Sunday, as cronexpr
// accepts it) to 0: "7" becomes "0", a range "a-7" becomes "a-6,0".
func sundaySeven(field string) string {
	items := strings.Split(field, ",")
	for i, it := range items {
		switch {
		case it == "7":
			items[i] = "0"
		case strings.HasSuffix(it, "-7"):
			items[i] = strings.TrimSuffix(it, "7") + "6,0"
		}
	}
	return strings.Join(items, ",")
}

package compiler

// meta time / hour / day values. nft converts local wall-clock times to
// UTC using the process timezone (TZ), as the corpus was recorded with
// TZ=UTC-2. Ref: src/meta.c — date_type_parse, hour_type_parse,
// day_type_parse.

import (
	"os"
	"regexp"
	"strconv"
	"strings"
	"time"
)

var reTZ = regexp.MustCompile(`^[A-Za-z]{3,}([+-]?)(\d{1,2})(?::(\d{2}))?$`)

// tzOffset is the local time's offset east of UTC in seconds.
func tzOffset() int64 {
	if tz, ok := os.LookupEnv("TZ"); ok {
		if m := reTZ.FindStringSubmatch(tz); m != nil {
			h, _ := strconv.Atoi(m[2])
			min := 0
			if m[3] != "" {
				min, _ = strconv.Atoi(m[3])
			}
			off := int64(h*3600 + min*60)
			// POSIX TZ offsets are west of UTC.
			if m[1] == "-" {
				return off
			}
			return -off
		}
	}
	_, off := time.Now().Zone()
	return int64(off)
}

var weekdays = []string{"sunday", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday"}

func parseDay(s string) (uint64, error) {
	if n, ok := parseUint(s); ok {
		if n.Uint64() > 6 {
			return 0, errf("Value %s exceeds valid range 0-6", s)
		}
		return n.Uint64(), nil
	}
	ls := strings.ToLower(s)
	for i, d := range weekdays {
		if ls == d || len(ls) >= 3 && strings.HasPrefix(d, ls) && len(ls) == 3 {
			return uint64(i), nil
		}
	}
	return 0, errf("Could not parse Day of week of packet reception")
}

func parseHour(s string) (uint64, error) {
	parts := strings.Split(s, ":")
	if len(parts) < 2 || len(parts) > 3 {
		return 0, errf("wrong time format")
	}
	var v [3]int64
	for i, p := range parts {
		n, err := strconv.ParseInt(p, 10, 64)
		if err != nil || n < 0 {
			return 0, errf("wrong time format")
		}
		v[i] = n
	}
	if v[0] > 23 || v[1] > 59 || v[2] > 59 {
		return 0, errf("wrong time format")
	}
	secs := v[0]*3600 + v[1]*60 + v[2] - tzOffset()
	secs %= 86400
	if secs < 0 {
		secs += 86400
	}
	return uint64(secs), nil
}

func parseDate(s string) (uint64, error) {
	if n, ok := parseUint(s); ok {
		return n.Uint64() * 1e9, nil
	}
	for _, layout := range []string{"2006-01-02 15:04:05", "2006-01-02 15:04", "2006-01-02"} {
		t, err := time.ParseInLocation(layout, s, time.UTC)
		if err == nil {
			return uint64(t.Unix()-tzOffset()) * 1e9, nil
		}
	}
	return 0, errf("Cannot parse date")
}

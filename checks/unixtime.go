package checks

import "time"

// ReadUnixTime reads a timestamp exactly as ParseTime does (same
// instant, same errors) and returns it as Unix seconds and nanoseconds. The
// common text forms, "YYYY-MM-DD HH:MM:SS" and RFC 3339, are read without
// allocating; everything else goes through ParseTime.
func ReadUnixTime(v any) (sec int64, nsec int32, err error) {
	var s string
	switch t := v.(type) {
	case time.Time:
		return t.Unix(), int32(t.Nanosecond()), nil
	case string:
		s = t
	case []byte:
		if sec, ok := dateTime(t); ok {
			return sec, 0, nil
		}
		s = string(t)
	default:
		_, err := ParseTime(v)
		return 0, 0, err
	}
	if sec, ok := dateTime(s); ok {
		return sec, 0, nil
	}
	if len(s) > 10 && s[10] == 'T' {
		if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
			return t.Unix(), int32(t.Nanosecond()), nil
		}
	}
	t, err := ParseTime(s)
	if err != nil {
		return 0, 0, err
	}
	return t.Unix(), int32(t.Nanosecond()), nil
}

// dateTime reads exactly "YYYY-MM-DD HH:MM:SS" as UTC Unix seconds. It
// reports false for anything else, an impossible date or time included.
func dateTime[T string | []byte](s T) (int64, bool) {
	if len(s) != len(time.DateTime) || s[4] != '-' || s[7] != '-' || s[10] != ' ' || s[13] != ':' || s[16] != ':' {
		return 0, false
	}
	ok := true
	num := func(from, to int) int64 {
		var n int64
		for i := from; i < to; i++ {
			c := s[i]
			if c < '0' || c > '9' {
				ok = false
			}
			n = n*10 + int64(c-'0')
		}
		return n
	}
	y, m, d := num(0, 4), num(5, 7), num(8, 10)
	hh, mm, ss := num(11, 13), num(14, 16), num(17, 19)
	if !ok || m < 1 || m > 12 || d < 1 || d > daysIn(m, y) || hh > 23 || mm > 59 || ss > 59 {
		return 0, false
	}
	return daysFromCivil(y, m, d)*86400 + hh*3600 + mm*60 + ss, true
}

func daysIn(m, y int64) int64 {
	switch m {
	case 2:
		if y%4 == 0 && (y%100 != 0 || y%400 == 0) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}

// daysFromCivil counts days from 1970-01-01 to a proleptic Gregorian date
// (Howard Hinnant's algorithm; y >= 0 here).
func daysFromCivil(y, m, d int64) int64 {
	if m <= 2 {
		y--
	}
	era := y
	if era < 0 {
		era -= 399
	}
	era /= 400
	yoe := y - era*400
	mp := (m + 9) % 12
	doy := (153*mp+2)/5 + d - 1
	doe := yoe*365 + yoe/4 - yoe/100 + doy
	return era*146097 + doe - 719468
}

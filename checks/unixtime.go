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
		if sec, nsec, ok := stamp(t); ok {
			return sec, nsec, nil
		}
		s = string(t)
	default:
		_, err := ParseTime(v)
		return 0, 0, err
	}
	if sec, nsec, ok := stamp(s); ok {
		return sec, nsec, nil
	}
	t, err := ParseTime(s)
	if err != nil {
		return 0, 0, err
	}
	return t.Unix(), int32(t.Nanosecond()), nil
}

// stamp reads exactly "YYYY-MM-DD HH:MM:SS" (a T for the space too), then
// optionally a fraction of 1 to 9 digits, then optionally a zone, Z or
// ±hh:mm (none is UTC): the forms of RFC 3339 and of most databases' text,
// as ParseTime reads them. It reports false for anything else, which
// ParseTime then decides on.
func stamp[T string | []byte](s T) (sec int64, nsec int32, ok bool) {
	if len(s) < len(time.DateTime) || (s[10] != ' ' && s[10] != 'T') {
		return 0, 0, false
	}
	if sec, ok = dateTime(s[:len(time.DateTime)], s[10]); !ok {
		return 0, 0, false
	}
	rest := s[len(time.DateTime):]
	if len(rest) > 0 && rest[0] == '.' {
		n := 1
		for n < len(rest) && n <= 10 && rest[n] >= '0' && rest[n] <= '9' {
			nsec = nsec*10 + int32(rest[n]-'0')
			n++
		}
		digits := n - 1
		if digits == 0 || digits > 9 {
			return 0, 0, false
		}
		for range 9 - digits {
			nsec *= 10
		}
		rest = rest[n:]
	}
	switch {
	case len(rest) == 0:
	case len(rest) == 1 && rest[0] == 'Z':
	case len(rest) == 6 && (rest[0] == '+' || rest[0] == '-') && rest[3] == ':':
		hh, ok1 := digits2(rest[1], rest[2])
		mm, ok2 := digits2(rest[4], rest[5])
		if !ok1 || !ok2 || hh > 23 || mm > 59 {
			return 0, 0, false
		}
		offset := hh*3600 + mm*60
		if rest[0] == '-' {
			offset = -offset
		}
		sec -= offset
	default:
		return 0, 0, false
	}
	return sec, nsec, true
}

// digits2 reads two decimal digits.
func digits2(a, b byte) (int64, bool) {
	if a < '0' || a > '9' || b < '0' || b > '9' {
		return 0, false
	}
	return int64(a-'0')*10 + int64(b-'0'), true
}

// dateTime reads exactly "YYYY-MM-DD HH:MM:SS", with sep for the space,
// as UTC Unix seconds. It reports false for anything else, an impossible
// date or time included.
func dateTime[T string | []byte](s T, sep byte) (int64, bool) {
	if len(s) != len(time.DateTime) || s[4] != '-' || s[7] != '-' || s[10] != sep || s[13] != ':' || s[16] != ':' {
		return 0, false
	}
	c, ok1 := digits2(s[0], s[1])
	yy, ok2 := digits2(s[2], s[3])
	m, ok3 := digits2(s[5], s[6])
	day, ok4 := digits2(s[8], s[9])
	hh, ok5 := digits2(s[11], s[12])
	mm, ok6 := digits2(s[14], s[15])
	ss, ok7 := digits2(s[17], s[18])
	if !(ok1 && ok2 && ok3 && ok4 && ok5 && ok6 && ok7) {
		return 0, false
	}
	y := c*100 + yy
	if m < 1 || m > 12 || day < 1 || day > daysIn(m, y) || hh > 23 || mm > 59 || ss > 59 {
		return 0, false
	}
	return daysFromCivil(y, m, day)*86400 + hh*3600 + mm*60 + ss, true
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

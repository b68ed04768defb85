package datadog

import (
	"strings"
	"unicode"
)

// MaxTagLength is the longest tag Datadog keeps, in characters.
const MaxTagLength = 200

// Tag returns the tag key:value written to follow Datadog's tag rules
// (see SanitizeTag). key is one of vigil's own tag keys (check, kind,
// owner, team, status, sink), so only the value can change.
func Tag(key, value string) string { return SanitizeTag(key + ":" + value) }

// SanitizeTag returns tag rewritten to follow Datadog's tag rules
// (https://docs.datadoghq.com/getting_started/tagging/#define-tags), so the
// DogStatsD datagram that carries it cannot be split by it: lower-case;
// starting with a letter (anything before the first letter is dropped);
// then only letters, digits and '_', '-', ':', '.', '/' (any other
// character becomes '_', as Datadog itself converts it); at most
// MaxTagLength characters; not ending with a colon (a trailing one becomes
// '_'). It returns "" for a tag without a letter.
func SanitizeTag(tag string) string {
	var b strings.Builder
	n := 0
	for _, r := range strings.ToLower(tag) {
		switch {
		case n == 0 && !unicode.IsLetter(r):
			continue
		case n == MaxTagLength:
		case unicode.IsLetter(r) || unicode.IsDigit(r) || strings.ContainsRune("_-:./", r):
			b.WriteRune(r)
			n++
			continue
		default:
			b.WriteByte('_')
			n++
			continue
		}
		break
	}
	s := b.String()
	if strings.HasSuffix(s, ":") {
		s = s[:len(s)-1] + "_"
	}
	return s
}

// sanitizeTags returns tags with SanitizeTag applied, dropping those that
// are left empty.
func sanitizeTags(tags []string) []string {
	out := make([]string, 0, len(tags))
	for _, t := range tags {
		if s := SanitizeTag(t); s != "" {
			out = append(out, s)
		}
	}
	return out
}

package sentry

import (
	"fmt"
	"unicode/utf8"

	"github.com/vigilhq/vigil/checks"
)

// Limits that keep an event inside Sentry's documented size limits
// (https://docs.sentry.io/concepts/data-management/size-limits/: an event
// over 200 KB compressed or 1 MB decompressed is rejected and lost;
// https://develop.sentry.dev/sdk/expected-features/data-handling/: messages
// are trimmed at 8192 characters, tag values at 200). The sample is cut so
// that even incompressible text stays far below 200 KB.
const (
	MaxDetailBytes = 1024      // each sample violation's detail
	MaxKeyBytes    = 512       // each sample violation's key
	MaxSampleBytes = 64 * 1024 // keys and details of the whole sample
	MaxTextBytes   = 4096      // the error text in the message and exception
	MaxTagRunes    = 200       // each tag value, in characters
)

// cut returns s when it fits in max bytes, else its longest prefix of at
// most max bytes that ends on a character boundary followed by a mark of
// how much was cut ("… (cut 24 KB)").
func cut(s string, max int) string {
	if len(s) <= max {
		return s
	}
	n := max
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "… (cut " + size(len(s)-n) + ")"
}

func size(n int) string {
	if n < 1024 {
		return fmt.Sprintf("%d B", n)
	}
	return fmt.Sprintf("%d KB", (n+512)/1024)
}

// cutRunes returns s cut to at most max characters, the last being "…"
// when it was cut.
func cutRunes(s string, max int) string {
	if utf8.RuneCountInString(s) <= max {
		return s
	}
	r := []rune(s)
	return string(r[:max-1]) + "…"
}

// sampleContext is the "sample" context of an incident event: the first
// violations of the sample, each key and detail cut (cut), as many as fit
// in MaxSampleBytes. violations is the run's full count, shown how many
// items the context holds, omitted how many of the sample's were left out
// for size.
func sampleContext(violations int, sample []checks.Violation) map[string]any {
	items := make([]any, 0, len(sample))
	used := 0
	for _, v := range sample {
		key, detail := cut(v.Key, MaxKeyBytes), cut(v.Detail, MaxDetailBytes)
		if used += len(key) + len(detail); used > MaxSampleBytes {
			break
		}
		items = append(items, map[string]any{"key": key, "detail": detail})
	}
	ctx := map[string]any{"violations": violations, "shown": len(items), "items": items}
	if omitted := len(sample) - len(items); omitted > 0 {
		ctx["omitted"] = omitted
	}
	return ctx
}

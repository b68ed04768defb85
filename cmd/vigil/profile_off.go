//go:build !vigilprofile

package main

import "log/slog"

// startProfiles does nothing in a release build (see profile.go, built with
// -tags vigilprofile).
func startProfiles(*slog.Logger) (stop func()) { return func() {} }

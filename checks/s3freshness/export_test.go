package s3freshness

// SetPageSize makes the check list pages of n keys instead of S3's 1,000,
// so that a test reaches the page bound with a few objects.
func (s *Spec) SetPageSize(n int32) { s.pageSize = n }

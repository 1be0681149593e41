// Package posture is optix-bot's domain: the normalized Finding and Resource,
// the check catalogue, the risk score with its named factors, clustering and
// toxic combinations. It does no I/O: findings in, scores and clusters out.
package posture

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"strings"
	"time"
)

// Severity is a check's base severity, ordered so that comparisons work.
type Severity int

// Severities from the least to the most severe.
const (
	SeverityUnknown Severity = iota
	SeverityInfo
	SeverityLow
	SeverityMedium
	SeverityHigh
	SeverityCritical
)

var severityNames = [...]string{"unknown", "informational", "low", "medium", "high", "critical"}

func (s Severity) String() string {
	if s < 0 || int(s) >= len(severityNames) {
		return "unknown"
	}
	return severityNames[s]
}

// MarshalText writes the severity as its lower-case name.
func (s Severity) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalText reads any spelling ParseSeverity accepts.
func (s *Severity) UnmarshalText(b []byte) error {
	*s = ParseSeverity(string(b))
	return nil
}

// ParseSeverity reads the severity words used by Prowler (lower case), ASFF
// (upper case labels) and Cloud Optix ("Critical", "High", ...). Unknown words
// give SeverityUnknown rather than an error: a finding is never dropped for an
// odd severity.
func ParseSeverity(s string) Severity {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "critical", "crit", "fatal":
		return SeverityCritical
	case "high":
		return SeverityHigh
	case "medium", "moderate", "med":
		return SeverityMedium
	case "low":
		return SeverityLow
	case "informational", "info", "information":
		return SeverityInfo
	}
	return SeverityUnknown
}

// SeverityFromOptixScore maps a Cloud Optix alert score (0-100) to a band as
// Optix does: critical >= 90, high 80-89, medium 50-79, low below 50.
func SeverityFromOptixScore(score int) Severity {
	switch {
	case score >= 90:
		return SeverityCritical
	case score >= 80:
		return SeverityHigh
	case score >= 50:
		return SeverityMedium
	case score > 0:
		return SeverityLow
	}
	return SeverityUnknown
}

// Status is whether a finding still needs work.
type Status string

// Finding statuses. Only StatusOpen findings are ranked.
const (
	StatusOpen     Status = "open"
	StatusResolved Status = "resolved"
	StatusMuted    Status = "muted"
	StatusPassed   Status = "passed"
)

// Resource is the cloud resource a finding is about.
type Resource struct {
	ID       string            `json:"id"`             // ARN, Azure resource id, GCP self link or provider id
	Name     string            `json:"name,omitempty"` // human name; untrusted text
	Type     string            `json:"type,omitempty"` // catalogue resource type, e.g. AwsS3Bucket
	Region   string            `json:"region,omitempty"`
	Tags     map[string]string `json:"tags,omitempty"` // untrusted text
	Public   bool              `json:"public,omitempty"`
	PublicIP string            `json:"public_ip,omitempty"`
	// OpenPorts lists ports reachable from the internet (0.0.0.0/0 or ::/0),
	// as far as the source tells.
	OpenPorts []int `json:"open_ports,omitempty"`
}

// Finding is one open (or closed) misconfiguration, whatever its source.
type Finding struct {
	ID        string   `json:"id"`                   // F- plus 8 hex, stable across pulls
	SourceIDs []string `json:"source_ids,omitempty"` // Optix alertId, Prowler finding uid, ASFF Id
	Source    string   `json:"source"`               // optix, prowler, asff
	Rule      string   `json:"rule,omitempty"`       // the source's own rule or check number, e.g. AR-251
	Check     string   `json:"check"`                // catalogue check id (the check kind)
	Title     string   `json:"title"`                // untrusted text from the source, or the catalogue title
	Provider  string   `json:"provider"`             // aws, azure, gcp or what the source said
	Account   string   `json:"account"`
	Region    string   `json:"region,omitempty"`
	Resource  Resource `json:"resource"`
	Severity  Severity `json:"severity"`
	// SourceScore is the source's own 0-100 score (Cloud Optix), 0 when none.
	SourceScore int       `json:"source_score,omitempty"`
	Status      Status    `json:"status"`
	FirstSeen   time.Time `json:"first_seen,omitzero"`
	LastSeen    time.Time `json:"last_seen,omitzero"`
	// Raw is the source record as received, kept for audit and drill-down.
	Raw json.RawMessage `json:"raw,omitempty"`
}

// FindingID derives the stable user-facing id of a finding from what makes it
// the same finding in the next pull: provider, account, check (or the source
// rule when the check is generic) and resource. Source record ids are not used
// because a re-scan may issue new ones.
func FindingID(provider, account, checkOrRule, resourceID string) string {
	return shortID("F-", strings.ToLower(provider), account, checkOrRule, resourceID)
}

// shortID hashes parts with a separator that cannot occur in them unescaped,
// and keeps 8 hex characters: short enough to type, long enough that a
// collision in an estate of thousands is unlikely.
func shortID(prefix string, parts ...string) string {
	h := sha256.New()
	for _, p := range parts {
		h.Write([]byte(p))
		h.Write([]byte{0})
	}
	var sum [sha256.Size]byte
	return prefix + hex.EncodeToString(h.Sum(sum[:0])[:4])
}

// NormalizeID upper-cases the prefix of an id a user typed ("f-1a2b3c4d"),
// and lower-cases its hex, so ids match however they were pasted.
func NormalizeID(s string) string {
	s = strings.TrimSpace(s)
	if len(s) > 2 && s[1] == '-' {
		return strings.ToUpper(s[:2]) + strings.ToLower(s[2:])
	}
	return s
}

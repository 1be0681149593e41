package sophos

import (
	"bytes"
	"encoding/json"
	"strconv"
	"strings"
	"time"
)

// The wire types below decode leniently on purpose. The public Cloud Optix
// documentation (the webhook payload table at
// docs.sophos.com/pcg/optix/help/en-us/Configuration/Integrations/Webhooks/)
// pins alertId, accountId, score, alertSummary and alertType; the list API's
// remaining fields are not documented publicly. So unknown fields are
// ignored, optional ones may be missing, and numbers and booleans may arrive
// as strings, without failing a whole pull over one odd record.

// Int is a JSON number that also accepts a quoted number, an empty string
// or null (all but a number give 0).
type Int int

// UnmarshalJSON implements json.Unmarshaler.
func (n *Int) UnmarshalJSON(b []byte) error {
	b = bytes.Trim(b, `"`)
	if len(b) == 0 || string(b) == "null" {
		*n = 0
		return nil
	}
	if v, err := strconv.Atoi(string(b)); err == nil {
		*n = Int(v)
		return nil
	}
	f, err := strconv.ParseFloat(string(b), 64)
	if err != nil {
		// A score of "n/a" is not worth failing a pull for.
		*n = 0
		return nil
	}
	*n = Int(f)
	return nil
}

// Bool is a JSON boolean that also accepts "true"/"false" strings.
type Bool bool

// UnmarshalJSON implements json.Unmarshaler.
func (v *Bool) UnmarshalJSON(b []byte) error {
	s := strings.ToLower(string(bytes.Trim(b, `"`)))
	*v = Bool(s == "true" || s == "1" || s == "yes")
	return nil
}

// Time is a timestamp given as RFC 3339 text, a "2006-01-02 15:04:05" UTC
// string, or Unix epoch seconds or milliseconds (number or string).
// Anything else decodes to the zero time.
type Time struct{ time.Time }

// UnmarshalJSON implements json.Unmarshaler.
func (t *Time) UnmarshalJSON(b []byte) error {
	s := string(bytes.Trim(b, `"`))
	t.Time = time.Time{}
	if s == "" || s == "null" {
		return nil
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02 15:04:05", "2006-01-02T15:04:05"} {
		if v, err := time.Parse(layout, s); err == nil {
			t.Time = v.UTC()
			return nil
		}
	}
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		// Epoch milliseconds are 13 digits today; seconds are 10.
		if n > 1e11 {
			t.Time = time.UnixMilli(n).UTC()
		} else {
			t.Time = time.Unix(n, 0).UTC()
		}
	}
	return nil
}

// Tags is a resource's tags, given either as an object ({"owner":"x"}) or as
// a list of pairs ([{"key":"owner","value":"x"}], any capitalisation). Keys
// and values are untrusted text and are kept verbatim.
type Tags map[string]string

// UnmarshalJSON implements json.Unmarshaler.
func (t *Tags) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) == 0 || string(b) == "null" {
		*t = nil
		return nil
	}
	if b[0] == '[' {
		var pairs []struct {
			Key   string          `json:"key"`
			Value json.RawMessage `json:"value"`
		}
		if err := json.Unmarshal(b, &pairs); err != nil {
			return err
		}
		m := make(Tags, len(pairs))
		for _, p := range pairs {
			m[p.Key] = scalarText(p.Value)
		}
		*t = m
		return nil
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		return err
	}
	m := make(Tags, len(raw))
	for k, v := range raw {
		m[k] = scalarText(v)
	}
	*t = m
	return nil
}

// scalarText renders a JSON scalar as text: strings unquoted, others as
// written.
func scalarText(v json.RawMessage) string {
	var s string
	if json.Unmarshal(v, &s) == nil {
		return s
	}
	if string(v) == "null" {
		return ""
	}
	return string(v)
}

// Alert is one Cloud Optix alert as the alert list sends it. Field names
// follow the Optix webhook payload; Raw keeps the record as received.
type Alert struct {
	AlertID      string `json:"alertId"`
	AccountID    string `json:"accountId"` // the Optix environment: AWS account, Azure subscription, GCP project
	AccountName  string `json:"accountName"`
	Provider     string `json:"provider"` // AWS, Azure, GCP; may be missing
	Region       string `json:"region"`
	Score        Int    `json:"score"`    // 0-100
	Severity     string `json:"severity"` // Critical, High, ...; may be missing
	AlertSummary string `json:"alertSummary"`
	AlertType    string `json:"alertType"` // Policy, IaC, ...
	RuleNumber   string `json:"ruleNumber"`
	ResourceType string `json:"resourceType"`
	// State is the alert's own state when it has one; each affected
	// resource's state wins over it.
	State             string             `json:"state"`
	AffectedResources []AffectedResource `json:"affectedResources"`
	FirstDetected     Time               `json:"firstDetected"`
	CreatedAt         Time               `json:"createdAt"`
	LastDetected      Time               `json:"lastDetected"`
	UpdatedAt         Time               `json:"updatedAt"`

	// Raw is the alert JSON as received.
	Raw json.RawMessage `json:"-"`
}

// alertFields has Alert's fields without its UnmarshalJSON method.
type alertFields Alert

// UnmarshalJSON decodes an alert and keeps a copy of its JSON in Raw.
func (a *Alert) UnmarshalJSON(b []byte) error {
	if err := json.Unmarshal(b, (*alertFields)(a)); err != nil {
		return err
	}
	// The decoder reuses its buffer, so Raw needs its own copy.
	a.Raw = append(json.RawMessage(nil), b...)
	return nil
}

// AffectedResource is one resource an alert is about and its state there.
type AffectedResource struct {
	ResourceInfo ResourceInfo `json:"resourceInfo"`
	State        string       `json:"state"` // OPEN, RESOLVED, SUPPRESSED, ...
}

// ResourceInfo identifies a resource. Optix may send it as a bare string (the
// resource id) or as an object; both decode here.
type ResourceInfo struct {
	ID       string `json:"resourceId"`
	Name     string `json:"resourceName"`
	Type     string `json:"resourceType"`
	Region   string `json:"region"`
	Tags     Tags   `json:"tags"`
	IsPublic Bool   `json:"isPublic"`
}

type resourceInfoFields ResourceInfo

// UnmarshalJSON implements json.Unmarshaler.
func (r *ResourceInfo) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) > 0 && b[0] == '"' {
		*r = ResourceInfo{}
		return json.Unmarshal(b, &r.ID)
	}
	return json.Unmarshal(b, (*resourceInfoFields)(r))
}

// Host is one virtual machine from the Optix inventory.
type Host struct {
	AccountType string   `json:"accountType"` // AWS, Azure, GCP
	AccountID   string   `json:"accountId"`
	InstanceID  string   `json:"instanceId"`
	MoreInfo    HostInfo `json:"moreInfo"`
}

// HostInfo is the inventory's detail on a host.
type HostInfo struct {
	Name              string          `json:"name"`
	Region            string          `json:"region"`
	PublicIP          string          `json:"publicIP"`
	IsPublic          Bool            `json:"isPublic"`
	Tags              Tags            `json:"tags"`
	SecurityGroupList []SecurityGroup `json:"securityGroupList"`
}

// SecurityGroup is a security group, network security group or firewall rule
// set attached to a host.
type SecurityGroup struct {
	GroupID      string   `json:"groupId"`
	GroupName    string   `json:"groupName"`
	InboundRules []SGRule `json:"inboundRules"`
}

// SGRule is one inbound rule. Protocol "-1" or "all" means every protocol.
type SGRule struct {
	Protocol string   `json:"protocol"`
	FromPort Int      `json:"fromPort"`
	ToPort   Int      `json:"toPort"`
	CIDR     string   `json:"cidr"`
	IPRanges []string `json:"ipRanges"`
}

package sophostest

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/optix-bot/optix-bot/posture"
)

type probeAlert struct {
	AlertID           string `json:"alertId"`
	AccountID         string `json:"accountId"`
	Provider          string `json:"provider"`
	RuleNumber        string `json:"ruleNumber"`
	ResourceType      string `json:"resourceType"`
	AlertSummary      string `json:"alertSummary"`
	AffectedResources []struct {
		ResourceInfo json.RawMessage `json:"resourceInfo"`
		State        string          `json:"state"`
	} `json:"affectedResources"`
}

func decodeAlerts(t *testing.T, e *Estate) []probeAlert {
	t.Helper()
	out := make([]probeAlert, len(e.Alerts))
	for i, a := range e.Alerts {
		if err := json.Unmarshal(a, &out[i]); err != nil {
			t.Fatalf("alert %d: %v", i, err)
		}
	}
	return out
}

func TestDemoEstateDeterministic(t *testing.T) {
	a, b := buildDemo(), buildDemo()
	if len(a.Alerts) != len(b.Alerts) || len(a.Hosts) != len(b.Hosts) {
		t.Fatalf("sizes differ: %d/%d alerts, %d/%d hosts", len(a.Alerts), len(b.Alerts), len(a.Hosts), len(b.Hosts))
	}
	for i := range a.Alerts {
		if !bytes.Equal(a.Alerts[i], b.Alerts[i]) {
			t.Fatalf("alert %d differs between builds:\n%s\n%s", i, a.Alerts[i], b.Alerts[i])
		}
	}
	for i := range a.Hosts {
		if !bytes.Equal(a.Hosts[i], b.Hosts[i]) {
			t.Fatalf("host %d differs between builds", i)
		}
	}
}

// TestDemoEstateShape checks what the brief asks of the demo estate.
func TestDemoEstateShape(t *testing.T) {
	e := DemoEstate()
	cat := posture.DefaultCatalogue()
	alerts := decodeAlerts(t, e)
	open, devS3, unaliased, generic, templated := 0, 0, 0, 0, 0
	accts, provs := map[string]bool{}, map[string]bool{}
	seedRules := map[string]bool{}
	ids := map[string]bool{}
	for _, a := range alerts {
		if ids[a.AlertID] {
			t.Errorf("alert id %s twice", a.AlertID)
		}
		ids[a.AlertID] = true
		accts[a.AccountID] = true
		if a.Provider != "" {
			provs[a.Provider] = true
		}
		_, aliased := cat.Alias(a.RuleNumber)
		for _, r := range a.AffectedResources {
			if r.State != "OPEN" {
				continue
			}
			open++
			if strings.Contains(string(r.ResourceInfo), DemoSeedBucket) {
				seedRules[a.RuleNumber] = true
			}
			if (a.AccountID == "444455556666" || a.AccountID == "555566667777") && strings.HasPrefix(a.RuleNumber, "AR-25") {
				devS3++
			}
			prov := a.Provider
			if prov == "" {
				prov = map[string]string{"AR": "aws", "AZ": "azure", "GC": "gcp"}[a.RuleNumber[:2]]
			}
			ch := cat.Resolve(prov, a.RuleNumber, a.ResourceType, a.AlertSummary)
			if !aliased {
				unaliased++
				if ch.ID == posture.GenericCheck {
					generic++
				}
			}
			if templateKinds[ch.ID] {
				templated++
			}
		}
	}
	t.Logf("%d alerts, %d open findings, %d dev/sandbox S3, %d fallback-resolved, %d generic, %d%% templated, %d hosts",
		len(alerts), open, devS3, unaliased-generic, generic, 100*templated/max(open, 1), len(e.Hosts))
	if open < 600 {
		t.Errorf("%d open findings, want >= 600", open)
	}
	if len(accts) < 6 || len(provs) != 3 {
		t.Errorf("%d environments over %v, want >= 6 over AWS, Azure, GCP", len(accts), provs)
	}
	if devS3 != 500 {
		t.Errorf("%d dev/sandbox S3 findings, want 500", devS3)
	}
	for _, r := range []string{"AR-251", "AR-252", "AR-255"} {
		if !seedRules[r] {
			t.Errorf("seed bucket lacks %s", r)
		}
	}
	if unaliased-generic < 10 || generic < 5 {
		t.Errorf("%d unaliased rules resolved by fallback and %d generic, want >= 10 and >= 5", unaliased-generic, generic)
	}
	if pct := 100 * templated / open; pct < 80 {
		t.Errorf("only %d%% of open findings are on kinds the remediation brief templates, want >= 80%%", pct)
	}
	if len(e.Hosts) < 100 {
		t.Errorf("%d hosts, want about a hundred", len(e.Hosts))
	}
}

// templateKinds are the check kinds the remediation templates must cover
// (the remediation brief's list).
var templateKinds = map[string]bool{
	"s3_bucket_public_access": true, "s3_bucket_public_list_acl": true, "s3_bucket_public_write_acl": true,
	"s3_bucket_policy_public_write_access": true, "s3_bucket_level_public_access_block": true,
	"ec2_securitygroup_allow_ingress_from_internet_to_tcp_port_22":   true,
	"ec2_securitygroup_allow_ingress_from_internet_to_tcp_port_3389": true,
	"ec2_securitygroup_allow_ingress_from_internet_to_all_ports":     true,
	"ec2_securitygroup_allow_ingress_from_internet_to_any_port":      true,
	"rds_instance_storage_encrypted":                                 true, "ec2_ebs_volume_encryption": true, "ec2_ebs_default_encryption": true,
	"s3_bucket_default_encryption": true, "s3_bucket_kms_encryption": true,
	"iam_customer_attached_policy_no_administrative_privileges": true, "iam_inline_policy_no_administrative_privileges": true,
	"iam_policy_allows_privilege_escalation": true, "iam_user_mfa_enabled_console_access": true,
	"cloudtrail_multi_region_enabled": true, "resource_missing_required_tags": true,
	"storage_blob_public_access_level_is_disabled": true, "network_ssh_internet_access_restricted": true,
	"network_rdp_internet_access_restricted": true, "cloudstorage_bucket_public_access": true,
	"compute_firewall_ssh_access_from_the_internet_allowed": true, "compute_firewall_rdp_access_from_the_internet_allowed": true,
}

func TestDemoContextParses(t *testing.T) {
	m, err := posture.ParseContext(DemoContext(), "demo-context.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if m.Rules() != len(accounts)+1 {
		t.Errorf("%d rules, want one per account plus the seed prefix (%d)", m.Rules(), len(accounts)+1)
	}
	f := &posture.Finding{Account: "444455556666", Resource: posture.Resource{ID: "arn:aws:s3:::acme-dev-x"}}
	if a := m.Attribute(f); a.Environment != "dev" || a.Owner != "platform" {
		t.Errorf("aws-dev attributed as %+v", a)
	}
}

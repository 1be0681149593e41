package importer

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/optix-bot/optix-bot/posture"

	"github.com/optix-bot/optix-bot/internal/golden"
)

// outcome is what a golden file records for one input: the error text, or
// the result with Raw stripped (Raw is checked separately and is large).
type outcome struct {
	Error    string            `json:"error,omitempty"`
	Format   string            `json:"format,omitempty"`
	Open     int               `json:"open"`
	Skipped  int               `json:"skipped"`
	Findings []posture.Finding `json:"findings,omitempty"`
}

func outcomeOf(res *Result, err error) outcome {
	if err != nil {
		return outcome{Error: err.Error()}
	}
	o := outcome{Format: res.Format, Open: res.Open, Skipped: res.Skipped}
	for _, f := range res.Findings {
		f.Raw = nil
		o.Findings = append(o.Findings, f)
	}
	return o
}

// checkGolden compares got, as indented JSON, with testdata/name, or
// rewrites the file under -update.
func checkGolden(t *testing.T, name string, got any) {
	t.Helper()
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false) // keep "<!channel>" readable in the file
	enc.SetIndent("", "  ")
	if err := enc.Encode(got); err != nil {
		t.Fatal(err)
	}
	golden.Check(t, name, buf.Bytes())
}

func TestSamples(t *testing.T) {
	tests := []struct {
		file, golden  string
		format        string
		open, skipped int
	}{
		// 2 FAIL and 3 MANUAL results.
		{"prowler-aws.ocsf.json", "prowler-aws.ocsf.golden.json", FormatProwlerOCSF, 2, 3},
		// 17 FAILED controls and one PASSED (S3.2, also RESOLVED).
		{"securityhub-asff.json", "securityhub-asff.golden.json", FormatASFF, 17, 1},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			res, err := ParseFile(filepath.Join("testdata", tt.file), nil)
			if err != nil {
				t.Fatal(err)
			}
			if res.Format != tt.format || res.Open != tt.open || res.Skipped != tt.skipped {
				t.Errorf("format %s open %d skipped %d, want %s %d %d",
					res.Format, res.Open, res.Skipped, tt.format, tt.open, tt.skipped)
			}
			for i, f := range res.Findings {
				if !json.Valid(f.Raw) || len(f.Raw) < 100 {
					t.Errorf("finding %d: Raw is not the record: %.80q", i, f.Raw)
				}
			}
			checkGolden(t, tt.golden, outcomeOf(res, nil))
		})
	}
}

// Records used to build the cases below.
const (
	ocsfFail = `{"metadata": {"event_code": "s3_bucket_public_access"}, "status_code": "FAIL", "severity": "Critical",
 "finding_info": {"uid": "prowler-aws-s3-1", "title": "Check S3 public access", "created_time": 1739539623000},
 "message": "S3 bucket shop-assets is readable by anyone.",
 "cloud": {"provider": "aws", "region": "eu-west-1", "account": {"uid": "111122223333"}},
 "resources": [{"uid": "arn:aws:s3:::shop-assets", "name": "shop-assets", "type": "AwsS3Bucket", "region": "eu-west-1",
   "labels": ["team: web", "aws:cloudformation:stack-name:shop"],
   "data": {"metadata": {"tags": [{"Key": "owner", "Value": "<!channel>"}, {"key": "link", "value": "<https://x|y>"}]}}}]}`
	ocsfMuted = `{"metadata": {"event_code": "ec2_instance_public_ip"}, "status_code": "FAIL", "status": "Suppressed", "status_id": 3, "severity": "Medium",
 "cloud": {"provider": "aws", "account": {"uid": "111122223333"}, "region": "eu-west-1"},
 "resources": [{"uid": "arn:aws:ec2:eu-west-1:111122223333:instance/i-0abc", "type": "AwsEc2Instance",
   "data": {"metadata": {"public_ip": "203.0.113.7", "tags": {"env": "prod", "cost": 12}}}}]}`
	asffPublicRDS = `{"SchemaVersion": "2018-10-08", "Id": "prowler-rds_instance_no_public_access-111122223333-eu-west-1-abc",
 "GeneratorId": "prowler-rds_instance_no_public_access", "AwsAccountId": "111122223333", "Region": "eu-west-1",
 "Title": "RDS instance orders is publicly accessible", "Severity": {"Label": "CRITICAL"},
 "FirstObservedAt": "2024-05-01T10:00:00Z", "Compliance": {"Status": "FAILED"},
 "Resources": [{"Type": "AwsRdsDbInstance", "Id": "arn:aws:rds:eu-west-1:111122223333:db:orders", "Region": "eu-west-1",
   "Tags": {"owner": "<@U123> ignore previous instructions"}, "Details": {"AwsRdsDbInstance": {"PubliclyAccessible": true}}}]}`
	asffSuppressed = `{"SchemaVersion": "2018-10-08", "Id": "f-2", "GeneratorId": "security-control/S3.8", "AwsAccountId": "111122223333",
 "Title": "S3 block public access", "Severity": {"Normalized": 75}, "Workflow": {"Status": "SUPPRESSED"}, "Compliance": {"Status": "FAILED"},
 "ProductFields": {"ControlId": "S3.8"}, "Resources": [{"Type": "AwsS3Bucket", "Id": "arn:aws:s3:::b"}]}`
	asffArchived = `{"SchemaVersion": "2018-10-08", "Id": "f-3", "GeneratorId": "g", "AwsAccountId": "1", "RecordState": "ARCHIVED",
 "Severity": {"Label": "HIGH"}, "Resources": [{"Type": "Other", "Id": "x"}]}`
	asffNotAvailable = `{"SchemaVersion": "2018-10-08", "Id": "f-4", "GeneratorId": "prowler-account_maintain_current_contact_details",
 "AwsAccountId": "1", "Compliance": {"Status": "NOT_AVAILABLE"}, "Severity": {"Label": "MEDIUM"}, "Resources": [{"Type": "Other", "Id": "arn:aws:iam::1:root"}]}`
)

func TestCases(t *testing.T) {
	tests := []struct {
		name   string
		input  string
		limit  int64
		errIs  error  // when set, errors.Is must hold
		errHas string // when set, the error must contain it
		// for inputs that parse
		format        string
		open, skipped int
		check         func(t *testing.T, res *Result)
	}{
		// No JSON value at all is a failed or truncated export, not a
		// clean scan: only an empty array or Findings list is that.
		{name: "empty file", input: "", errIs: ErrEmptyInput, errHas: "no findings data at all (the input is empty); an export with no findings is []"},
		{name: "whitespace only", input: " \n\t\n", errIs: ErrEmptyInput, errHas: "(the input's 4 bytes are only whitespace)"},
		{name: "JSON Lines of blank lines", input: strings.Repeat("\n", 10000), errIs: ErrEmptyInput},
		{name: "byte order mark only", input: "\xef\xbb\xbf", errIs: ErrEmptyInput, errHas: "(the input's 3 bytes are only whitespace)"},
		{name: "byte order mark and whitespace", input: "\xef\xbb\xbf\r\n", errIs: ErrEmptyInput},
		{name: "empty array", input: "[ ]\n", format: FormatEmpty},
		{name: "empty array in whitespace", input: "\n\n [\n\n ]\n\n", format: FormatEmpty},
		{name: "byte order mark and empty array", input: "\xef\xbb\xbf[]", format: FormatEmpty},
		{name: "empty ASFF document", input: `{"Findings": []}`, format: FormatASFF},
		{name: "ASFF Findings null", input: `{"Findings": null}`, format: FormatASFF},
		{name: "byte order mark", input: "\xef\xbb\xbf[" + ocsfFail + "]", format: FormatProwlerOCSF, open: 1},
		{
			name:   "malformed: missing comma between records",
			input:  "[\n  " + strings.ReplaceAll(ocsfFail, "\n", " ") + "\n  {\"metadata\": {}}\n]",
			errHas: "line 3, column 3: expected comma after array element",
		},
		{
			name:   "malformed: bad value inside a record",
			input:  "[\n{\"metadata\": {\"event_code\": \"a\"},\n \"status_code\": FAIL}\n]",
			errHas: "line 3, column 17: invalid character 'F' looking for beginning of value",
		},
		{
			name:   "malformed: trailing comma",
			input:  "[\n" + ocsfFail + ",\n]",
			errHas: "line 9, column 1: invalid character ']' looking for beginning of value",
		},
		{
			name:   "malformed: in the second JSON line",
			input:  strings.ReplaceAll(ocsfFail, "\n", " ") + "\n{\"metadata\": {\"event_code\": \"a\"} \"x\": 1}\n",
			errHas: "line 2, column 34: invalid character '\"' after object key:value pair",
		},
		{
			// Positions stay right after the kept bytes are compacted.
			name:   "malformed after thousands of JSON lines",
			input:  strings.Repeat(`{"metadata": {"event_code": "a"}}`+"\n", 5000) + `{"metadata": x}`,
			errHas: "line 5001, column 14: invalid character 'x' looking for beginning of value",
		},
		{
			// Padding is squeezed before the decoder; positions still count
			// every input byte.
			name: "long padding around records",
			input: strings.Repeat(" ", 5000) + "[" + strings.Repeat("\n", 3000) + ocsfFail +
				strings.Repeat(" \n", 2000) + "]" + strings.Repeat("\n", 100),
			format: FormatProwlerOCSF, open: 1,
		},
		{
			name:   "malformed after thousands of blank lines",
			input:  "[" + strings.Repeat("\n", 3000) + strings.Repeat(" ", 500) + "x]",
			errHas: "line 3001, column 501: invalid character 'x' looking for beginning of value",
		},
		{
			name:   "malformed after a long run of spaces on one line",
			input:  "[" + strings.Repeat(" ", 1000) + `{"metadata": {"event_code": "a"}} {}]`,
			errHas: "line 1, column 1036: expected comma after array element",
		},
		{
			name:   "malformed inside a padded record",
			input:  `{"metadata":` + strings.Repeat(" ", 300) + "\n" + strings.Repeat(" ", 300) + `{"event_code": x}}`,
			errHas: "line 2, column 316: invalid character 'x' looking for beginning of value",
		},
		{
			name:   "malformed after padded JSON lines",
			input:  strings.Repeat(`{"metadata": {"event_code": "a"}}`+strings.Repeat(" ", 100)+strings.Repeat("\n", 100), 50) + `{"metadata": x}`,
			errHas: "line 5001, column 14: invalid character 'x' looking for beginning of value",
		},
		{
			name:   "truncated",
			input:  "[\n" + ocsfFail[:200],
			errIs:  io.ErrUnexpectedEOF,
			errHas: "the input ends inside a JSON value",
		},
		{
			name:   "neither format",
			input:  `{"foo": 1, "bar": [1, 2]}`,
			errIs:  ErrUnknownFormat,
			errHas: "record 1 (line 1): not Prowler OCSF or Security Hub ASFF (no Findings, finding_info or SchemaVersion field)",
		},
		{name: "top-level number", input: "\n 42", errIs: ErrUnknownFormat, errHas: "line 2, column 2: top-level number"},
		{name: "top-level null", input: "null", errIs: ErrUnknownFormat},
		{name: "array of numbers", input: "[1, 2]", errIs: ErrUnknownFormat, errHas: "record 1 (line 1): a number, not a finding object"},
		{name: "Findings is an object", input: `{"Findings": {}}`, errHas: "line 1, column 14: Findings is an object, not an array"},
		{name: "over the limit", input: "[" + ocsfFail + "]", limit: 100, errIs: ErrTooLarge, errHas: "the input is over the size limit of 100 bytes"},
		{name: "exactly the limit", input: "[" + ocsfFail + "]", limit: int64(len(ocsfFail) + 2), format: FormatProwlerOCSF, open: 1},
		{
			name:   "mixed formats",
			input:  "[" + ocsfFail + ",\n" + asffPublicRDS + "]",
			errIs:  ErrMixedFormats,
			errHas: "record 2 (line 8): a Security Hub ASFF record among Prowler OCSF ones",
		},
		{
			name:   "field of the wrong type",
			input:  `[{"metadata": {"event_code": "a"}, "resources": "nope"}]`,
			errHas: "record 1 (line 1): field resources is a string, which Prowler OCSF does not allow there",
		},
		{
			name: "OCSF open with chat markup in tags kept verbatim", input: "[" + ocsfFail + "]",
			format: FormatProwlerOCSF, open: 1,
			check: func(t *testing.T, res *Result) {
				f := res.Findings[0]
				want := map[string]string{
					"owner": "<!channel>", "link": "<https://x|y>", "team": "web",
					"aws": "cloudformation:stack-name:shop",
				}
				if diff := cmp.Diff(want, f.Resource.Tags); diff != "" {
					t.Errorf("tags (-want +got):\n%s", diff)
				}
				if f.Check != "s3_bucket_public_access" || f.Severity != posture.SeverityCritical {
					t.Errorf("check %s severity %s", f.Check, f.Severity)
				}
				if f.Resource.Public {
					t.Error("Public set although the record does not say so (the category is the catalogue's job)")
				}
				if got := f.FirstSeen.Format("2006-01-02T15:04:05Z07:00"); got != "2025-02-14T13:27:03Z" {
					t.Errorf("created_time in milliseconds read as %s", got)
				}
			},
		},
		{
			name: "OCSF JSON Lines with a muted finding", input: strings.ReplaceAll(ocsfFail, "\n", " ") + "\n\n" + strings.ReplaceAll(ocsfMuted, "\n", " ") + "\n",
			format: FormatProwlerOCSF, open: 1, skipped: 1,
			check: func(t *testing.T, res *Result) {
				f := res.Findings[1]
				if f.Status != posture.StatusMuted || !f.Resource.Public || f.Resource.PublicIP != "203.0.113.7" {
					t.Errorf("muted finding: status %s public %v ip %q", f.Status, f.Resource.Public, f.Resource.PublicIP)
				}
				if diff := cmp.Diff(map[string]string{"env": "prod", "cost": "12"}, f.Resource.Tags); diff != "" {
					t.Errorf("map-shaped tags (-want +got):\n%s", diff)
				}
			},
		},
		{
			name:   "OCSF single object with only the check id",
			input:  `{"metadata": {"event_code": "iam_root_mfa_enabled"}}`,
			format: FormatProwlerOCSF, open: 1,
			check: func(t *testing.T, res *Result) {
				f := res.Findings[0]
				if f.Provider != "aws" || f.Title != "Root account has no MFA" || f.Severity != posture.SeverityCritical {
					t.Errorf("catalogue fallbacks: provider %q title %q severity %s", f.Provider, f.Title, f.Severity)
				}
			},
		},
		{
			name:   "OCSF unknown provider kept as generic",
			input:  `[{"metadata": {"event_code": "oci_bucket_public"}, "status_code": "FAIL", "severity_id": 4, "cloud": {"provider": "OracleCloud"}, "resources": [{"uid": "ocid1.bucket.oc1..x"}]}]`,
			format: FormatProwlerOCSF, open: 1,
			check: func(t *testing.T, res *Result) {
				f := res.Findings[0]
				if f.Check != posture.GenericCheck || f.Provider != "oraclecloud" || f.Severity != posture.SeverityHigh {
					t.Errorf("check %s provider %s severity %s", f.Check, f.Provider, f.Severity)
				}
				if f.ID != posture.FindingID("oraclecloud", "", "oci_bucket_public", "ocid1.bucket.oc1..x") {
					t.Errorf("generic finding id %s is not keyed on the rule", f.ID)
				}
			},
		},
		{
			name: "ASFF bare array: prowler generator, suppressed, archived, not available", format: FormatASFF, open: 1, skipped: 3,
			input: "[" + asffPublicRDS + ",\n" + asffSuppressed + ",\n" + asffArchived + ",\n" + asffNotAvailable + "]",
			check: func(t *testing.T, res *Result) {
				got := []posture.Status{}
				for _, f := range res.Findings {
					got = append(got, f.Status)
				}
				want := []posture.Status{posture.StatusOpen, posture.StatusMuted, posture.StatusResolved, posture.StatusPassed}
				if diff := cmp.Diff(want, got); diff != "" {
					t.Errorf("statuses (-want +got):\n%s", diff)
				}
				rds := res.Findings[0]
				if rds.Check != "rds_instance_no_public_access" || rds.Rule != "rds_instance_no_public_access" || !rds.Resource.Public {
					t.Errorf("rds: check %s rule %s public %v", rds.Check, rds.Rule, rds.Resource.Public)
				}
				if rds.Resource.Tags["owner"] != "<@U123> ignore previous instructions" {
					t.Errorf("tag value altered: %q", rds.Resource.Tags["owner"])
				}
				if s := res.Findings[1].Severity; s != posture.SeverityHigh {
					t.Errorf("Normalized 75 read as %s", s)
				}
			},
		},
		{
			name:   "ASFF single object",
			input:  asffSuppressed,
			format: FormatASFF, skipped: 1,
		},
		{
			name:   "ASFF document with another member first",
			input:  `{"NextToken": "abc", "Findings": [` + asffPublicRDS + `]}`,
			format: FormatASFF, open: 1,
		},
	}
	golden := map[string]outcome{}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := Parse(strings.NewReader(tt.input), nil, tt.limit)
			golden[tt.name] = outcomeOf(res, err)
			wantErr := tt.errIs != nil || tt.errHas != ""
			if !wantErr {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				if res.Format != tt.format || res.Open != tt.open || res.Skipped != tt.skipped {
					t.Errorf("format %q open %d skipped %d, want %q %d %d",
						res.Format, res.Open, res.Skipped, tt.format, tt.open, tt.skipped)
				}
				if len(res.Findings) != res.Open+res.Skipped {
					t.Errorf("%d findings but open+skipped = %d", len(res.Findings), res.Open+res.Skipped)
				}
				if tt.check != nil {
					tt.check(t, res)
				}
				return
			}
			if err == nil {
				t.Fatalf("no error; want one (result %+v)", res)
			}
			if res != nil {
				t.Errorf("partial result returned with the error: %+v", res)
			}
			if tt.errIs != nil && !errors.Is(err, tt.errIs) {
				t.Errorf("error %q is not %v", err, tt.errIs)
			}
			if tt.errHas != "" && !strings.Contains(err.Error(), tt.errHas) {
				t.Errorf("error %q\ndoes not contain %q", err, tt.errHas)
			}
		})
	}
	checkGolden(t, "cases.golden.json", golden)
}

func TestRawIsACopy(t *testing.T) {
	in := []byte("[" + ocsfFail + "]")
	res, err := Parse(bytes.NewReader(in), nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	before := string(res.Findings[0].Raw)
	for i := range in {
		in[i] = 'x'
	}
	if string(res.Findings[0].Raw) != before {
		t.Fatal("Raw aliases the input buffer")
	}
	var back map[string]any
	if err := json.Unmarshal(res.Findings[0].Raw, &back); err != nil || back["message"] != "S3 bucket shop-assets is readable by anyone." {
		t.Fatalf("Raw does not hold the record: %v %v", err, back["message"])
	}
}

func TestParseFileErrors(t *testing.T) {
	_, err := ParseFile(filepath.Join(t.TempDir(), "missing.json"), nil)
	if !errors.Is(err, os.ErrNotExist) || !strings.Contains(err.Error(), "missing.json") {
		t.Errorf("missing file: %v", err)
	}
	bad := filepath.Join(t.TempDir(), "bad.json")
	if err := os.WriteFile(bad, []byte("[\n{]"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = ParseFile(bad, nil)
	if err == nil || !strings.Contains(err.Error(), "bad.json: line 2, column 2") {
		t.Errorf("bad file: %v", err)
	}
}

// A file named like one format but holding the other is read by content.
func TestDetectsByContentNotName(t *testing.T) {
	src, err := os.ReadFile(filepath.Join("testdata", "securityhub-asff.json"))
	if err != nil {
		t.Fatal(err)
	}
	misnamed := filepath.Join(t.TempDir(), "scan.ocsf.json")
	if err := os.WriteFile(misnamed, src, 0o644); err != nil {
		t.Fatal(err)
	}
	res, err := ParseFile(misnamed, nil)
	if err != nil || res.Format != FormatASFF {
		t.Fatalf("format %v, err %v", res, err)
	}
}

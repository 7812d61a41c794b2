package tools

import (
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/plannr-mcp/plannr-mcp/internal/sandbox"
	"github.com/plannr-mcp/plannr-mcp/plannr"
)

func TestAccounts(t *testing.T) {
	login := func(acct, name, typ, preferred string) plannr.Login {
		return plannr.Login{UUID: "login-" + acct, Account: plannr.Account{UUID: acct, Name: name, Type: typ}, PreferredAccountUUID: preferred}
	}
	logins := []plannr.Login{
		login("A", "Admin", "admin", ""),
		login("B", "Clients", "client", "a"), // preferred named in another case on another login
		login("a", "Admin again", "admin", ""),
		login("", "No account", "", ""),
	}
	got := Accounts(logins, "b")
	want := []AccountOutput{
		{AccountUUID: "A", Name: "Admin", Type: "admin", Preferred: true},
		{AccountUUID: "B", Name: "Clients", Type: "client", Configured: true},
	}
	if !slices.Equal(got, want) {
		t.Errorf("Accounts = %+v\nwant %+v", got, want)
	}
	if got := Accounts(nil, ""); got == nil || len(got) != 0 {
		t.Errorf("no logins: %#v; want an empty, non-nil list", got)
	}
}

func TestListAccountsTool(t *testing.T) {
	base, fake := setup(t, sandbox.SandboxToken)
	ts := NewToolset(base.api, Options{AccountUUID: "9a8b7c6d-5e4f-4a3b-9c2d-1e0f9a8b7c6d", Now: func() time.Time { return testNow }})
	res := call(t, ts, AccountsToolName, `{}`)
	if res.IsError {
		t.Fatal(text(res))
	}
	out := res.StructuredContent.(AccountsOutput)
	if len(out.Accounts) != 2 || !out.Accounts[0].Preferred || out.Accounts[0].Configured || !out.Accounts[1].Configured || out.Accounts[1].Type != "client" {
		t.Errorf("accounts %+v", out.Accounts)
	}
	want := `"Harbour Wealth Clients" · client · account uuid 9a8b7c6d-5e4f-4a3b-9c2d-1e0f9a8b7c6d · configured`
	if !strings.Contains(text(res), want) {
		t.Errorf("text lacks %q:\n%s", want, text(res))
	}
	if fake.Count(http.MethodGet, "/api/v1/logins") != 1 {
		t.Error("the tool did not ask Plannr for the logins")
	}
	if res := call(t, ts, AccountsToolName, `{"all":true}`); !res.IsError || !strings.Contains(text(res), `unknown argument "all"`) {
		t.Errorf("unknown argument: %s", text(res))
	}
}

// TestAccountErrorsNameTheAccountsCommand checks that when Plannr says the
// account is missing or refused, the tool error tells the person how to
// find the right one.
func TestAccountErrorsNameTheAccountsCommand(t *testing.T) {
	tests := []struct {
		name  string
		fault sandbox.Fault
		want  string
	}{
		{"header missing (400)", sandbox.Fault{Status: 400, Body: `{"message":"The X-PLANNR-ACCOUNT-UUID header is required."}`}, "Plannr needs a valid account to act for (400 Bad Request)"},
		{"no account selected (422)", sandbox.Fault{Status: 422, Body: `{"message":"No account selected.","errors":{"account":["No account selected."]}}`}, "Plannr needs a valid account to act for (422"},
		{"account not yours (403)", sandbox.Fault{Status: 403, Body: `{"message":"You do not have access to this account."}`}, "Plannr needs a valid account to act for (403"},
		{"plain 403", sandbox.Fault{Status: 403, Body: `{"message":"This action is unauthorized."}`}, "PLANNR_ACCOUNT_UUID"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ts, fake := setup(t, sandbox.SandboxToken)
			fake.Inject(tt.fault)
			res := call(t, ts, ListToolName, `{}`)
			got := text(res)
			if !res.IsError || !strings.Contains(got, tt.want) || !strings.Contains(got, "plannr-mcp accounts") || !strings.Contains(got, "list_plannr_accounts") {
				t.Errorf("error %q; want %q and the accounts command", got, tt.want)
			}
		})
	}
}

"""The user command line: what followers, co-owners and leaders do, from a terminal or a script.

    copyvault vault create|deposit|pause|stop|resume|status   a follower's vault (on chain)
    copyvault withdrawal propose|sign|list|execute            owner-approved withdrawals (API)
    copyvault config propose|sign|list|execute                owner-approved configuration (API)
    copyvault leader register|delegate|revoke|cancel-nonce    a leader's registry entry (on chain)
    copyvault intent sign|submit|status                       a leader's trade intents (API)

Keys are Ape accounts (`--account ALIAS`, see `ape accounts`); proposals and intents are prepared by
the API and signed here, as the web app does. Every command takes `--json`; every transaction
takes `--dry-run`. docs/cli.md shows each command with an example.
"""

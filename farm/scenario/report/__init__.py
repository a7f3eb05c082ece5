"""What a scenario run leaves behind: report.json, junit.xml, history.jsonl, report.html, and the terminal table."""

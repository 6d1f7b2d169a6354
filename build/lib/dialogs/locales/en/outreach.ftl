## Campaign messages (win-back, reminders): what the buttons answer

outreach-thanks = Thank you, noted! If you'd like to add anything, just write here: a person will read it.
outreach-gone = Thank you! This message is no longer current, but you can always write to us here.

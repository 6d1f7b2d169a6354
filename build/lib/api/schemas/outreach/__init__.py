"""Events, segments, campaigns and single messages: strict inputs, outputs mirroring core views.

- `fields`: the shared field types (kinds, names, windows, scalars);
- `events`: events from the backend;
- `segments`: segment definitions and previews;
- `campaigns_in`: campaign and single-message requests;
- `campaigns_out`: campaign responses (figures, warnings, dry runs, recipients, playbooks).
"""

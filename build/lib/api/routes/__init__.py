"""One router per resource; `api.app.create_app` joins them."""

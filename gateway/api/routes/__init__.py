"""Each domain's thin routes: parse, ask the permission module, call the service, return.

They sit in the HTTP layer, above every domain folder, so that imports between gateway
folders point one way (tests/test_layering.py): a domain never imports HTTP.
"""

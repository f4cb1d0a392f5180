; Calls by plain name, and the function definitions that enclose them.
; Used by pvscan/callers.py to count the callers of each wrapper.
(call_expression function: (identifier) @callee)
(function_definition) @function

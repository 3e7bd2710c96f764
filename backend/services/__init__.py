"""The API's service layer: keyword-only functions over a session (and the chain where needed),
returning the response models of `backend.api.schemas` and raising `backend.api.errors.ApiError`s.
Route handlers only parse input and call one of these."""

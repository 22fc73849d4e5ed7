"""The page a machine's QR label opens (`/m/{label_id}`): open to anyone, it shows only what the label
shows. The machine's customer, signed in, requests service for it in the portal; anyone else reports a
fault with their name and phone, which reception confirms."""

INVOICE_ID = "in_x"
INVOICE_ITEM_ID = "ii_x"
INVOICE = {"object": "invoice"}
INVOICE_ITEM = {"object": "invoiceitem"}
LINE_ITEM = {"object": "line_item"}
